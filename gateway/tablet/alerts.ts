// Alerts: a device went offline, a step or mission failed, a STOP was pressed, or the gateway
// said so. Each stays until someone acknowledges it, across a reload of the page.
import { h, keyedList } from './dom.ts';
import { clock } from './words.ts';

export type AlertKind = 'offline' | 'failed' | 'stop' | 'gateway';

export interface Alert {
  /** The same thing happening again does not add a second alert while the first is unacknowledged. */
  key: string;
  kind: AlertKind;
  text: string;
  at: string;
}

const STORAGE_KEY = 'phygate.alerts';
const ACKED_KEY = 'phygate.alerts.acknowledged';
const KIND_WORDS: Record<AlertKind, string> = { offline: 'Offline', failed: 'Failed', stop: 'STOP', gateway: 'Alert' };

export class AlertsView {
  private alerts: Alert[];
  /** Acknowledged and not over yet (a device still offline): not raised again, e.g. by a reload. */
  private readonly acknowledged: Set<string>;
  private readonly list: HTMLElement;
  private readonly toolbar: HTMLElement;

  constructor(
    readonly root: HTMLElement,
    private readonly onCount: (count: number) => void,
  ) {
    this.alerts = load<Alert[]>(STORAGE_KEY, []).filter((a) => typeof a?.key === 'string' && typeof a.text === 'string');
    this.acknowledged = new Set(load<string[]>(ACKED_KEY, []));
    this.toolbar = h('div', { class: 'alerts-toolbar' });
    this.list = h('ul', { class: 'alerts', 'aria-label': 'Alerts, newest first', 'data-empty': 'No alerts. Anything that goes wrong on the floor appears here until someone acknowledges it.' });
    root.append(this.toolbar, this.list);
    this.render();
  }

  raise(key: string, kind: AlertKind, text: string): void {
    if (this.acknowledged.has(key) || this.alerts.some((a) => a.key === key)) return;
    this.alerts.unshift({ key, kind, text, at: new Date().toISOString() });
    this.changed();
  }

  /** What the alert was about is over (the device is back): the next time is a new alert. */
  over(key: string): void {
    if (this.acknowledged.delete(key)) this.changed();
  }

  private acknowledge(key: string | undefined): void {
    for (const a of this.alerts) if (key === undefined || a.key === key) this.acknowledged.add(a.key);
    this.alerts = key === undefined ? [] : this.alerts.filter((a) => a.key !== key);
    this.changed();
  }

  private changed(): void {
    try {
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.alerts));
      sessionStorage.setItem(ACKED_KEY, JSON.stringify([...this.acknowledged]));
    } catch {
      // Storage full or off: the alerts still show until the page is closed.
    }
    this.render();
  }

  private render(): void {
    this.toolbar.replaceChildren(
      ...(this.alerts.length > 1 ? [h('button', { type: 'button', class: 'big secondary', onclick: () => this.acknowledge(undefined) }, `Acknowledge all ${this.alerts.length}`)] : []),
    );
    keyedList(
      this.list,
      this.alerts,
      (a) => a.key,
      (a) => a.text,
      (a) =>
        h(
          'li',
          { class: `alert kind-${a.kind}` },
          h('span', { class: 'chip' }, KIND_WORDS[a.kind]),
          h('span', { class: 'when' }, clock(a.at)),
          h('p', { class: 'text' }, a.text),
          h('button', { type: 'button', class: 'big secondary', 'aria-label': `Acknowledge: ${a.text}`, onclick: () => this.acknowledge(a.key) }, 'Acknowledge'),
        ),
    );
    this.onCount(this.alerts.length);
  }
}

function load<T extends unknown[]>(key: string, fallback: T): T {
  try {
    const stored = JSON.parse(sessionStorage.getItem(key) ?? 'null') as unknown;
    return Array.isArray(stored) ? (stored as T) : fallback;
  } catch {
    return fallback;
  }
}
