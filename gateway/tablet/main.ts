// The shop-floor tablet: sign in with a token, then the floor map, missions, devices and alerts,
// live from the gateway's event stream, with STOP always on screen. This file wires the parts.
import { Api, ApiError, roleAllows, type DeviceState, type SiteView, type TrafficDevice, type Whoami } from './api.ts';
import { AlertsView } from './alerts.ts';
import { DevicesView } from './devices.ts';
import { byId, h } from './dom.ts';
import { Live, type LiveStatus } from './live.ts';
import { FloorMap } from './map.ts';
import { MissionsView } from './missions.ts';
import { StopControl } from './stop.ts';
import { StopHistory } from './stop-history.ts';
import { clock, deviceStateWords, TONE_WORDS, type Tone } from './words.ts';

const TOKEN_KEY = 'phygate.token';

/**
 * Where the token is kept: for this tab (sessionStorage), or, when the operator asks to be
 * remembered or opens a sign-in link, on this device (localStorage) until signed out.
 */
const tokens = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY) ?? localStorage.getItem(TOKEN_KEY),
  keep(token: string, onDevice: boolean): void {
    sessionStorage.setItem(TOKEN_KEY, token);
    if (onDevice) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  },
  forget(): void {
    sessionStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(TOKEN_KEY);
  },
};

/** A sign-in link's token (`…/#token=pgt_…`, from `phygate token create --link`), taken off the address at once. */
function linkToken(): string | undefined {
  const m = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!m) return undefined;
  history.replaceState(null, '', window.location.pathname + window.location.search);
  return decodeURIComponent(m[1]!);
}

async function whoami(token: string): Promise<Whoami> {
  return new Api(token).json<Whoami>('GET', '/v1/whoami');
}

function showSignIn(message?: string): void {
  byId('app').hidden = true;
  byId('stop').hidden = true;
  byId('signin').hidden = false;
  const error = byId('signin-error');
  error.hidden = !message;
  error.textContent = message ?? '';
  const form = byId<HTMLFormElement>('signin-form');
  const input = byId<HTMLInputElement>('token');
  input.focus();
  form.onsubmit = async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    const button = form.querySelector('button')!;
    button.disabled = true;
    try {
      const who = await whoami(token);
      tokens.keep(token, byId<HTMLInputElement>('remember').checked);
      input.value = '';
      await start(token, who);
    } catch (err) {
      error.hidden = false;
      error.textContent =
        err instanceof ApiError && err.status === 401
          ? 'This token is not accepted: it is wrong or was revoked.'
          : `Cannot sign in: ${err instanceof Error ? err.message : String(err)}.`;
    } finally {
      button.disabled = false;
    }
  };
}

function signOut(message?: string): void {
  tokens.forget();
  sessionStorage.removeItem('phygate.alerts');
  sessionStorage.removeItem('phygate.alerts.acknowledged');
  if (message) sessionStorage.setItem('phygate.signout', message);
  window.location.reload();
}

async function start(token: string, who: Whoami): Promise<void> {
  const api = new Api(token);
  const site = await api.json<SiteView>('GET', '/v1/site');
  const canOperate = roleAllows(who.role, 'operator');
  byId('signin').hidden = true;
  byId('app').hidden = false;
  document.body.dataset.role = who.role;
  byId('site-name').textContent = site.name;
  byId('who').textContent = `${who.name} · ${who.role}`;
  byId('sign-out').onclick = () => signOut();
  legend();

  const map = new FloorMap(site);
  byId('map').replaceChildren(map.el);
  const devices = new DevicesView(byId('panel-devices'), site.devices.map((d) => d.id));
  const badge = (id: string, n: number, label: string) => {
    const el = byId(id);
    el.hidden = n === 0;
    el.textContent = String(n);
    el.setAttribute('aria-label', `${n} ${label}`);
  };
  const alerts = new AlertsView(byId('panel-alerts'), (n) => badge('badge-alerts', n, 'unacknowledged'));
  const stopHistory = new StopHistory(byId('panel-alerts'), api);
  const picture = byId<HTMLDialogElement>('picture-dialog');
  byId('picture-close').onclick = () => picture.close();
  const missions = new MissionsView(byId('panel-missions'), {
    api,
    canOperate,
    who: who.name,
    timeScale: site.timeScale ?? 1,
    onAwaiting: (n) => badge('badge-missions', n, 'waiting for approval'),
    showPicture: (url, alt) => {
      const img = byId<HTMLImageElement>('picture-img');
      img.src = url;
      img.alt = alt;
      picture.showModal();
    },
  });
  const stop = new StopControl({
    api,
    button: byId<HTMLButtonElement>('stop'),
    banner: byId('stop-banner'),
    canRelease: canOperate,
    who: who.name,
    onStop: (s) => alerts.raise(`stop:${s.id}`, 'stop', `STOP pressed by ${s.createdBy}: ${s.reason}`),
    onActive: (active) => missions.stopActive(active),
  });
  tabs();

  const online = new Map<string, boolean>();
  const apply = (d: DeviceState) => {
    map.update(d);
    devices.update(d);
    if (!d.online && online.get(d.id) !== false) alerts.raise(`offline:${d.id}`, 'offline', `${d.id} is ${deviceStateWords(d)}`);
    if (d.online) alerts.over(`offline:${d.id}`);
    online.set(d.id, d.online);
  };
  const traffic = (list: TrafficDevice[]) => {
    map.showTraffic(list);
    devices.traffic(list);
  };
  // The stream carries traffic only when it changes: after each (re)connect it is read once. An
  // event that arrives while that read is under way is newer than its answer, which is then dropped.
  let trafficEvents = 0;
  const loadTraffic = async () => {
    const before = trafficEvents;
    const answer = await api.json<{ devices: TrafficDevice[] }>('GET', '/v1/traffic').catch(() => undefined);
    if (answer && trafficEvents === before) traffic(answer.devices);
  };
  const live = new Live(token, {
    status: (status, since) => showLive(status, since, map, devices),
    snapshot: (list) => {
      for (const d of list) apply(d);
      void missions.refresh();
      void stop.refresh();
      void stopHistory.refresh();
      void loadTraffic();
    },
    device: apply,
    mission: (e) => {
      if (e.status === 'failed') void missions.nameOf(e.id).then((name) => alerts.raise(`failed:${e.id}`, 'failed', `Mission ${name} failed${e.reason ? `: ${e.reason}` : ''}`));
      missions.mission(e);
    },
    step: (e) => {
      if (e.status === 'failed') {
        void missions.nameOf(e.missionId).then((name) => alerts.raise(`failed:${e.missionId}/${e.step}`, 'failed', `Step ${e.step} of ${name} failed${e.reason ? `: ${e.reason}` : ''}`));
      }
      missions.step(e);
    },
    rehearsal: (e) => missions.rehearsal(e),
    stop: (s) => {
      stop.stopped(s);
      void stopHistory.refresh();
    },
    released: () => {
      stop.released();
      void stopHistory.refresh();
    },
    alert: (e) => alerts.raise(`gateway:${e.missionId ?? ''}/${e.step ?? ''}/${e.device ?? ''}/${e.message}`, 'gateway', e.message),
    traffic: (e) => {
      trafficEvents++;
      traffic(e.devices);
    },
    unauthorized: () => signOut('Your token is no longer accepted. Sign in again.'),
  });
  window.addEventListener('pagehide', () => live.close());
}

function showLive(status: LiveStatus, since: Date, map: FloorMap, devices: DevicesView): void {
  const lost = status === 'lost';
  document.body.dataset.live = status;
  map.setStale(lost);
  devices.setStale(lost);
  const pill = byId('live-status');
  pill.className = `live is-${status}`;
  pill.textContent = status === 'live' ? '● Live' : status === 'connecting' ? 'Connecting…' : '✗ Disconnected';
  const banner = byId('live-banner');
  banner.hidden = !lost;
  banner.replaceChildren(
    ...(lost
      ? [
          h('strong', null, 'NO CONNECTION'),
          h('span', { class: 'what' }, `The gateway has not answered since ${clock(since)}; reconnecting… The map and lists show the last known state, greyed out: robots may have moved.`),
        ]
      : []),
  );
}

function tabs(): void {
  const list = [...document.querySelectorAll<HTMLButtonElement>('[role="tab"]')];
  for (const tab of list) {
    tab.onclick = () => {
      for (const other of list) {
        const selected = other === tab;
        other.setAttribute('aria-selected', String(selected));
        byId(other.getAttribute('aria-controls')!).hidden = !selected;
      }
    };
  }
}

function legend(): void {
  const tones: Tone[] = ['busy', 'idle', 'charging', 'paused', 'fault', 'offline'];
  byId('legend').replaceChildren(
    ...tones.map((t) => h('li', { class: `tone-${t}` }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), TONE_WORDS[t])),
    h('li', { class: 'zone-keep-out' }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), 'keep out'),
    h('li', { class: 'zone-slow' }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), 'slow zone'),
    h('li', { class: 'route' }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), 'route reserved for a robot'),
    h('li', { class: 'route ahead' }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), 'its route ahead'),
    h('li', { class: 'route destination' }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), 'where it is going'),
  );
}

async function boot(): Promise<void> {
  const farewell = sessionStorage.getItem('phygate.signout') ?? undefined;
  sessionStorage.removeItem('phygate.signout');
  const linked = linkToken();
  const token = linked ?? tokens.get();
  if (!token) return showSignIn(farewell);
  try {
    const who = await whoami(token);
    if (linked) tokens.keep(linked, true);
    await start(token, who);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && !linked) tokens.forget();
    showSignIn(err instanceof ApiError && err.status === 401 ? 'Your token is no longer accepted. Sign in again.' : `Cannot reach the gateway: ${err instanceof Error ? err.message : String(err)}.`);
  }
}

void boot();
