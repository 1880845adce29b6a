// The STOP history under the alerts: the latest STOPs, active or released, with who pressed each,
// when and why, and who released it, when and with what note (GET /v1/stop/history). Alerts are
// acknowledged away; this stays, so the next shift can see what happened.
import type { Api, StopRecord } from './api.ts';
import { h, keyedList } from './dom.ts';
import { dayClock } from './words.ts';

/** As many as fit a glance; the API has more (`?limit=` up to 500). */
const SHOWN = 20;

export class StopHistory {
  private readonly list: HTMLElement;

  constructor(
    root: HTMLElement,
    private readonly api: Api,
  ) {
    this.list = h('ol', { class: 'stop-history', 'aria-label': 'STOP history, newest first', 'data-empty': 'No STOP has been pressed.' });
    root.append(h('section', { class: 'stop-history-section' }, h('h2', null, 'STOP history'), this.list));
  }

  /** Read after every (re)connect, press and release. */
  async refresh(): Promise<void> {
    try {
      const { stops } = await this.api.json<{ stops: StopRecord[] }>('GET', `/v1/stop/history?limit=${SHOWN}`);
      this.render(stops);
    } catch {
      // The connection banner covers it; the next reconnect reads again.
    }
  }

  private render(stops: StopRecord[]): void {
    keyedList(
      this.list,
      stops,
      (s) => s.id,
      (s) => JSON.stringify([s.releasedAt, s.releaseNote]),
      (s) =>
        h(
          'li',
          { class: `stop-record ${s.releasedAt ? 'released' : 'active'}`, 'data-stop': s.id },
          h('span', { class: 'chip' }, s.releasedAt ? 'released' : 'active'),
          h('span', { class: 'pressed' }, `Pressed by ${s.createdBy} at ${dayClock(s.createdAt)}: ${s.reason}`),
          h('span', { class: 'scope' }, `${s.scope === 'all' ? 'everything' : s.scope} · ${s.devices.length} device${s.devices.length === 1 ? '' : 's'}`),
          h('span', { class: 'release' }, s.releasedAt ? `Released by ${s.releasedBy ?? 'unknown'} at ${dayClock(s.releasedAt)}${s.releaseNote ? `: ${s.releaseNote}` : ''}` : 'Not released yet'),
        ),
    );
  }
}
