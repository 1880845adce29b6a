// Why the VDA 5050 master refuses a command. Each has a stable `code` callers can branch on.
export type Vda5050ErrorCode = 'UNKNOWN_DEVICE' | 'DEVICE_OFFLINE' | 'DEVICE_WRONG_MAP' | 'ROUTE_NOT_FROM_DEVICE' | 'INVALID_ROUTE' | 'ORDER_ACTIVE' | 'NO_ORDER';

export class Vda5050Error extends Error {
  constructor(
    readonly code: Vda5050ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Not an AMR of this site. */
export class UnknownDeviceError extends Vda5050Error {
  constructor(readonly deviceId: string) {
    super('UNKNOWN_DEVICE', `'${deviceId}' is not an AMR of this site`);
  }
}

/** The AMR is not connected: it receives no new work. */
export class DeviceOfflineError extends Vda5050Error {
  constructor(readonly deviceId: string) {
    super('DEVICE_OFFLINE', `${deviceId} is offline`);
  }
}

/** The AMR reports another map than the site's: an order on the site's map would be refused by it, or worse, driven on its map. */
export class WrongMapError extends Vda5050Error {
  constructor(
    readonly deviceId: string,
    readonly mapId: string,
    readonly siteMapId: string,
  ) {
    super('DEVICE_WRONG_MAP', `${deviceId} reports map '${mapId}', not the site's '${siteMapId}'`);
  }
}

/** The route must start where the AMR is (or, for an update, where its current base ends). */
export class RouteStartError extends Vda5050Error {
  constructor(
    readonly deviceId: string,
    readonly routeStart: string | undefined,
    readonly expected: string | undefined,
  ) {
    super('ROUTE_NOT_FROM_DEVICE', `the route starts at '${routeStart ?? '(nothing)'}' but ${deviceId} ${expected ? `is at '${expected}'` : 'has reported no node yet'}`);
  }
}

/** The route is not a path on the site's nav graph, or the order's options do not fit it. */
export class InvalidRouteError extends Vda5050Error {
  constructor(message: string) {
    super('INVALID_ROUTE', message);
  }
}

/** A new order while the AMR still works on one: cancel it first, or update it. */
export class OrderActiveError extends Vda5050Error {
  constructor(
    readonly deviceId: string,
    readonly orderId: string,
  ) {
    super('ORDER_ACTIVE', `${deviceId} is still working on order '${orderId}'`);
  }
}

/** An update without an order to update. */
export class NoOrderError extends Vda5050Error {
  constructor(readonly deviceId: string) {
    super('NO_ORDER', `${deviceId} has no order to update`);
  }
}
