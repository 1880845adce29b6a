// Devices: one row each with what someone walking up to the tablet asks first: online or not,
// what it does, battery, paused, cargo, errors, whom a robot waits for; machines with their job and
// progress; a robot driven by a learned policy with that policy and how often its safety shield
// stepped in (by reason when opened).
import type { DevicePolicy, DeviceState, TrafficDevice } from './api.ts';
import { h, keyedList } from './dom.ts';
import { clock, deviceStateWords, deviceTone, interventionsByReason, percent, policyWords, timesWords, TONE_WORDS, waitWords } from './words.ts';

export class DevicesView {
  private readonly states = new Map<string, DeviceState>();
  /** Whom each waiting robot waits for, in words. */
  private readonly waits = new Map<string, string>();
  /** The robots whose policy details are opened: a redraw of the row keeps them open. */
  private readonly policyOpen = new Set<string>();
  private readonly list: HTMLElement;
  private stale = false;
  private pending = false;

  constructor(
    readonly root: HTMLElement,
    /** The site's order, which is the order the devices are listed in. */
    private readonly order: string[],
  ) {
    this.list = h('ul', { class: 'devices', 'aria-label': 'Devices' });
    root.append(this.list);
  }

  update(d: DeviceState): void {
    this.states.set(d.id, d);
    // At most one redraw per frame however many states arrive.
    if (this.pending) return;
    this.pending = true;
    window.requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }

  /** The robots that wait, from GET /v1/traffic and `traffic` events. */
  traffic(devices: readonly TrafficDevice[]): void {
    this.waits.clear();
    for (const d of devices) if (d.waitsFor) this.waits.set(d.id, waitWords(d.waitsFor));
    this.render();
  }

  setStale(stale: boolean): void {
    this.stale = stale;
    this.render();
  }

  get(id: string): DeviceState | undefined {
    return this.states.get(id);
  }

  private render(): void {
    const items = this.order.map((id) => this.states.get(id)).filter((d): d is DeviceState => !!d);
    // Rounded as shown, so a battery falling by 0.01 % does not redraw the row.
    const signature = (d: DeviceState) =>
      JSON.stringify([this.stale, d.online, d.state, d.paused, d.cargo, d.errors, d.at, d.soc === undefined ? null : Math.round(d.soc * 100), d.progress === undefined ? null : Math.round(d.progress * 100), d.partsProduced, d.job?.program, this.waits.get(d.id), d.policy ?? null]);
    keyedList(this.list, items, (d) => d.id, signature, (d) => this.row(d));
  }

  private row(d: DeviceState): HTMLElement {
    const tone = deviceTone(d);
    const facts: (HTMLElement | null)[] = [];
    if (d.soc !== undefined) {
      facts.push(h('span', { class: `fact battery${d.soc < 0.2 ? ' low' : ''}` }, h('meter', { min: 0, max: 1, low: 0.2, optimum: 1, value: d.soc, 'aria-label': `battery of ${d.id}` }), ` ${percent(d.soc)}`));
    }
    if (d.cargo !== undefined) facts.push(h('span', { class: 'fact' }, d.cargo === 0 ? 'no cargo' : `${d.cargo} tote${d.cargo === 1 ? '' : 's'}`));
    if (d.at) facts.push(h('span', { class: 'fact' }, `at ${d.at}`));
    if (d.job && (d.state === 'running' || d.state === 'done' || d.state === 'stopped')) {
      const what = d.job.program ? `${d.job.program}${d.job.count ? ` × ${d.job.count}` : ''}` : d.job.action;
      facts.push(h('span', { class: 'fact' }, `${what}${d.progress !== undefined ? ` · ${percent(d.progress)}` : ''}${d.partsProduced !== undefined && d.job.count ? ` · ${d.partsProduced} of ${d.job.count} made` : ''}`));
    }
    if (!d.online && d.lastSeen) facts.push(h('span', { class: 'fact' }, `last seen ${clock(d.lastSeen)}`));
    return h(
      'li',
      { class: `device tone-${tone}${this.stale ? ' stale' : ''}`, 'data-device': d.id },
      h('span', { class: 'dot', 'aria-hidden': 'true' }),
      h('span', { class: 'name' }, d.id),
      h('span', { class: 'kind' }, d.kind ?? ''),
      h('span', { class: `chip tone-${tone}`, title: TONE_WORDS[tone] }, this.stale ? `${deviceStateWords(d)} (old)` : deviceStateWords(d)),
      h('span', { class: 'facts' }, ...facts),
      d.errors && d.errors.length > 0 ? h('span', { class: 'errors', role: 'note' }, d.errors.join('; ')) : null,
      this.waits.has(d.id) ? h('span', { class: 'waits', role: 'note' }, `${d.id} ${this.waits.get(d.id)}`) : null,
      d.policy ? this.policy(d.id, d.policy) : null,
    );
  }

  /** The policy in one line; opened, its whole SHA-256 and the shield's interventions by reason. */
  private policy(id: string, p: DevicePolicy): HTMLElement {
    const reasons = interventionsByReason(p);
    return h(
      'details',
      {
        class: 'policy',
        open: this.policyOpen.has(id),
        ontoggle: (e) => {
          if ((e.target as HTMLDetailsElement).open) this.policyOpen.add(id);
          else this.policyOpen.delete(id);
        },
      },
      h('summary', null, h('span', { class: 'policy-name' }, `Policy ${policyWords(p)}`), h('span', { class: 'interventions' }, `safety shield stepped in ${timesWords(p.interventions)}`)),
      h('p', { class: 'sha' }, `SHA-256 ${p.sha256}`),
      reasons.length > 0 ? h('ul', { class: 'by-reason', 'aria-label': `Interventions of ${id}'s safety shield by reason` }, ...reasons.map((r) => h('li', null, r))) : h('p', null, 'The shield has not stepped in.'),
    );
  }
}
