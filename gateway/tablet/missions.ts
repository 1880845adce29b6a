// Missions: those waiting for approval with their check report (verdict, how long, issues, the
// route picture the simulator drew) and Approve / Reject; running ones with their steps; the
// latest finished ones with their outcome and why. Approve sends the planHash of the report shown,
// so what is approved is exactly what the operator looked at. Why a mission or a step is where it
// is comes from the gateway's answers (so a reload shows it too); step events update it live.
import { ApiError, type Api, type Mission, type MissionSummary, type Report } from './api.ts';
import { h, keyedList } from './dom.ts';
import { clock, devicesUsed, duration, hhmm, MISSION_WORDS, rehearsalWords, STEP_WORDS, VERDICT_WORDS } from './words.ts';

const ACTIVE = 'awaiting_approval,approved,running,paused';
const FINISHED = 'succeeded,failed,cancelled';
const FINISHED_SHOWN = 5;

const STEP_ICONS: Record<string, string> = { pending: '○', dispatched: '◔', running: '▶', blocked: '‖', succeeded: '✓', failed: '✗', cancelled: '–' };

/** What the gateway's codes mean to someone at the tablet. */
function plainError(e: unknown): string {
  if (!(e instanceof ApiError)) return String(e);
  switch (e.code) {
    case 'STOP_ACTIVE':
      return 'A STOP is active. Release it first (red banner at the top), then try again.';
    case 'PLAN_HASH_MISMATCH':
      return 'The plan is not the one that was checked; it cannot be approved.';
    case 'PLAN_REJECTED':
      return 'Checked again against the fleet as it is now, the plan fails; it cannot be approved.';
    case 'REPORT_CHANGED':
      return 'Checked again, the plan would now run on other devices. The report shown is the new one: read it, then approve again.';
    case 'REHEARSAL_REQUIRED':
      return 'This site approves a plan only after it rehearsed with success. Press Rehearse, wait for its result, then approve.';
    case 'REHEARSAL_BUSY':
      return 'Another mission is being rehearsed. Try again once it has ended.';
    case 'INVALID_TRANSITION':
      return `This mission has moved on: ${e.message}.`;
    case 'FORBIDDEN':
      return 'Your token may not do this; an operator token is needed.';
    case 'NETWORK':
      return 'The gateway cannot be reached. Try again.';
    default:
      return e.message;
  }
}

export interface MissionsOptions {
  api: Api;
  /** Operators (and admins) get the buttons; viewers only watch. */
  canOperate: boolean;
  /** Who is signed in, for the reason recorded with a rejection. */
  who: string;
  /** How many missions wait for approval, for the tab's badge. */
  onAwaiting(count: number): void;
  /** How many times faster than real time the floor runs (the virtual fleet's speed; 1 on real hardware). */
  timeScale: number;
  showPicture(url: string, alt: string): void;
}

/** "Approve X? It starts now: amr-2 (courier), arm-1 and cnc-1 work; amr-1 moves out of the way." */
export function approveQuestion(name: string, report: Report): string {
  const roleOf = new Map(Object.entries(report.assignments).map(([role, device]) => [device, role]));
  const working = [...new Set(report.steps.map((s) => s.device).filter((d): d is string => !!d))].map((d) => (roleOf.has(d) ? `${d} (${roleOf.get(d)})` : d));
  const making = [...new Set((report.moves ?? []).map((m) => m.device))].filter((d) => !report.steps.some((s) => s.device === d));
  const list = (xs: string[]) => (xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`);
  return `Approve ${name}? It starts now, as checked: ${working.length > 0 ? `${list(working)} ${working.length === 1 ? 'works' : 'work'}` : 'no device works'}${making.length > 0 ? `; ${list(making)} ${making.length === 1 ? 'moves' : 'move'} out of the way` : ''}.`;
}

export class MissionsView {
  private active: MissionSummary[] = [];
  private finished: MissionSummary[] = [];
  private readonly details = new Map<string, Mission>();
  private readonly pictures = new Map<string, string>();
  private readonly errors = new Map<string, string>();
  private readonly busy = new Set<string>();
  /** `<missionId>:<action>` whose confirmation is showing. */
  private confirming: string | undefined;
  private timer: number | undefined;
  /** Whether a STOP is active now: a step a released STOP blocked says it waits for a resume. */
  private stopped = false;
  private readonly lists: { awaiting: HTMLElement; running: HTMLElement; finished: HTMLElement };

  constructor(
    readonly root: HTMLElement,
    private readonly o: MissionsOptions,
  ) {
    const section = (id: string, title: string, empty: string) => {
      const list = h('div', { class: 'cards', id: `missions-${id}`, 'data-empty': empty });
      root.append(h('section', { class: 'missions-section', 'aria-labelledby': `missions-${id}-title` }, h('h2', { id: `missions-${id}-title` }, title), list));
      return list;
    };
    this.lists = {
      awaiting: section('awaiting', 'Waiting for approval', 'Nothing waits for approval. New plans from the agent appear here.'),
      running: section('running', 'Running', 'No mission is running.'),
      finished: section('finished', 'Finished', 'No mission has finished yet.'),
    };
  }

  /** Reads the lists again soon; several events in a row cause one read. */
  refreshSoon(): void {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.refresh(), 150);
  }

  async refresh(): Promise<void> {
    try {
      const [active, finished] = await Promise.all([
        this.o.api.json<{ missions: MissionSummary[] }>('GET', `/v1/missions?status=${ACTIVE}&limit=50`),
        this.o.api.json<{ missions: MissionSummary[] }>('GET', `/v1/missions?status=${FINISHED}&limit=${FINISHED_SHOWN}`),
      ]);
      // Oldest first: the first one sent is the first one to decide.
      this.active = active.missions.reverse();
      this.finished = finished.missions;
      await Promise.all(this.active.map((m) => this.loadDetail(m)));
      this.forget();
      this.render();
    } catch {
      // The connection banner says what is wrong; the next (re)connect reads again.
    }
  }

  /** A step event: shown at once, without waiting for the next read. */
  step(e: { missionId: string; step: string; status: string; reason?: string; device?: string }): void {
    const m = this.active.find((x) => x.id === e.missionId);
    const step = m?.steps.find((s) => s.id === e.step);
    if (!m || !step) return this.refreshSoon();
    step.status = e.status as typeof step.status;
    // As the gateway keeps it: a reason only while failed, cancelled or blocked.
    step.reason = step.status === 'failed' || step.status === 'cancelled' || step.status === 'blocked' ? (e.reason ?? null) : null;
    if (e.status === 'dispatched' && e.device) step.device = e.device;
    this.render();
  }

  /** A mission event: the lists are read again, with the mission's reason. */
  mission(_e: { id: string; status: string; reason?: string }): void {
    this.refreshSoon();
  }

  /** A rehearsal started or ended: the mission's detail (which holds it) is read again. */
  rehearsal(e: { missionId: string }): void {
    this.details.delete(e.missionId);
    this.refreshSoon();
  }

  /** A mission's name as people know it (asked of the gateway if this page has not seen the mission yet). */
  async nameOf(id: string): Promise<string> {
    const known = [...this.active, ...this.finished].find((m) => m.id === id);
    if (known) return known.name ?? id;
    return (await this.o.api.json<Mission>('GET', `/v1/missions/${id}`).catch(() => undefined))?.name ?? id;
  }

  private async loadDetail(m: MissionSummary): Promise<void> {
    if (!this.details.has(m.id)) this.details.set(m.id, await this.o.api.json<Mission>('GET', `/v1/missions/${m.id}`));
    if (m.status === 'awaiting_approval' && !this.pictures.has(m.id)) {
      const picture = await this.o.api.blob(`/v1/missions/${m.id}/plan.svg`).catch(() => undefined);
      if (picture) this.pictures.set(m.id, URL.createObjectURL(picture));
    }
  }

  /** Drops what belongs to missions no longer shown as active. */
  private forget(): void {
    const ids = new Set(this.active.map((m) => m.id));
    for (const [id, url] of this.pictures) {
      if (this.active.find((m) => m.id === id)?.status === 'awaiting_approval') continue;
      URL.revokeObjectURL(url);
      this.pictures.delete(id);
    }
    for (const id of this.details.keys()) if (!ids.has(id)) this.details.delete(id);
  }

  /** A STOP became active or was released. */
  stopActive(active: boolean): void {
    if (active === this.stopped) return;
    this.stopped = active;
    this.render();
  }

  /** A step's reason as it reads now: one given by a STOP that was released says what comes next. */
  private reasonOf(reason: string): string {
    return !this.stopped && reason.startsWith('STOP') ? `${reason} — the STOP was released; resume the mission to run it again` : reason;
  }

  private render(): void {
    const awaiting = this.active.filter((m) => m.status === 'awaiting_approval');
    const running = this.active.filter((m) => m.status !== 'awaiting_approval');
    const state = (m: MissionSummary) =>
      JSON.stringify([m.status, m.updatedAt, m.reason, m.steps.map((s) => [s.status, s.device, s.reason]), this.details.has(m.id), this.details.get(m.id)?.rehearsal?.id, this.details.get(m.id)?.rehearsal?.status, this.pictures.has(m.id), this.errors.get(m.id), this.busy.has(m.id), this.confirming?.startsWith(`${m.id}:`) ? this.confirming : '', this.stopped]);
    keyedList(this.lists.awaiting, awaiting, (m) => m.id, state, (m) => this.awaitingCard(m));
    keyedList(this.lists.running, running, (m) => m.id, state, (m) => this.runningCard(m));
    keyedList(this.lists.finished, this.finished, (m) => m.id, (m) => JSON.stringify([m.status, m.updatedAt, m.reason]), (m) => this.finishedCard(m));
    this.o.onAwaiting(awaiting.length);
  }

  private awaitingCard(m: MissionSummary): HTMLElement {
    const detail = this.details.get(m.id);
    const report = detail?.report;
    const name = m.name ?? m.id;
    const picture = this.pictures.get(m.id);
    const alt = `Route picture of ${name}, as the check simulated it`;
    return h(
      'article',
      { class: `card mission awaiting verdict-${m.verdict}`, 'data-mission': m.id, 'aria-label': `Mission ${name}, waiting for approval` },
      h('header', null, h('span', { class: `chip verdict-${m.verdict}` }, VERDICT_WORDS[m.verdict]), h('h3', null, name)),
      detail?.plan.goal ? h('p', { class: 'goal' }, detail.plan.goal) : null,
      h(
        'dl',
        { class: 'facts' },
        fact('Takes', `about ${duration(m.makespanS)} once approved${this.o.timeScale > 1 ? ` (about ${duration(m.makespanS / this.o.timeScale)} on this floor, which runs ${this.o.timeScale}× faster)` : ''}`),
        report ? fact('Uses', ...devicesUsed(report).flatMap((d, i) => [i > 0 ? ', ' : '', h('span', { class: 'nobr' }, d)])) : null,
        detail ? fact('Sent', `${hhmm(new Date(m.createdAt))} by ${detail.createdBy}`) : null,
      ),
      report
        ? report.issues.length === 0
          ? h('p', { class: 'no-issues' }, 'The check found no problems.')
          : h(
              'ul',
              { class: 'issues', 'aria-label': 'What the check found' },
              ...report.issues.map((i) =>
                h(
                  'li',
                  { class: `issue ${i.severity}` },
                  h('strong', null, `${i.severity === 'error' ? 'Problem' : 'Warning'}${i.step ? ` in step ${i.step}` : ''}: `),
                  i.message,
                  h('span', { class: 'hint' }, i.hint),
                ),
              ),
            )
        : h('p', { class: 'loading' }, 'Loading the report…'),
      report ? this.rehearsalOf(detail) : null,
      picture
        ? h('button', { class: 'picture', type: 'button', 'aria-label': `Enlarge the route picture of ${name}`, onclick: () => this.o.showPicture(picture, alt) }, h('img', { src: picture, alt }))
        : null,
      this.o.canOperate && report
        ? this.actions(m, [
            // A rehearsal moves no real robot: it runs at once, without a question.
            detail.rehearsal?.status === 'running'
              ? undefined
              : {
                  label: 'Rehearse',
                  cls: 'rehearse',
                  run: async () => {
                    this.details.delete(m.id);
                    await this.o.api.json('POST', `/v1/missions/${m.id}/rehearse`, {});
                  },
                },
            {
              label: 'Approve',
              cls: 'approve',
              // An approval moves robots: the question says which, as the check assigned them.
              confirm: approveQuestion(name, report),
              run: () => this.o.api.json('POST', `/v1/missions/${m.id}/approve`, { planHash: report.planHash }),
            },
            {
              label: 'Reject',
              cls: 'reject',
              confirm: `Reject ${name}? It will not run; the agent can send a new plan.`,
              run: () => this.o.api.json('POST', `/v1/missions/${m.id}/cancel`, { reason: `rejected on the tablet by ${this.o.who}` }),
            },
          ])
        : null,
      this.errorOf(m.id),
    );
  }

  /** The rehearsal's result beside the check's: what it found, robots and places named. */
  private rehearsalOf(detail: Mission): HTMLElement {
    const r = detail.rehearsal;
    return h(
      'div',
      { class: `rehearsal rehearsal-${r?.status ?? 'none'}`, 'aria-label': 'Rehearsal on the simulated fleet' },
      h('p', null, rehearsalWords(r, detail.report.planHash)),
      r && r.status !== 'running' && r.problems.length > 0
        ? h(
            'ul',
            { class: 'issues', 'aria-label': 'What the rehearsal found' },
            ...r.problems.map((p) => h('li', { class: `issue ${p.severity}` }, h('strong', null, `${p.severity === 'error' ? 'Problem' : 'Warning'}: `), p.message)),
          )
        : null,
    );
  }

  private runningCard(m: MissionSummary): HTMLElement {
    const name = m.name ?? m.id;
    const done = m.steps.filter((s) => s.status === 'succeeded').length;
    return h(
      'article',
      { class: `card mission status-${m.status}`, 'data-mission': m.id, 'aria-label': `Mission ${name}, ${MISSION_WORDS[m.status]}` },
      h('header', null, h('span', { class: `chip status-${m.status}` }, MISSION_WORDS[m.status]), h('h3', null, name)),
      h('div', { class: 'progress-line' }, h('progress', { max: m.steps.length, value: done, 'aria-label': `${done} of ${m.steps.length} steps done` }), h('span', null, `${done} of ${m.steps.length} steps done`)),
      m.status === 'paused' ? h('p', { class: 'note' }, m.reason ? `Paused: ${this.reasonOf(m.reason)}. Nothing new starts until it is resumed.` : 'Paused: nothing new starts until it is resumed.') : null,
      h(
        'ol',
        { class: 'steps' },
        ...m.steps.map((s) =>
          h(
            'li',
            { class: `step step-${s.status}`, 'data-step': s.id },
            h('span', { class: 'icon', 'aria-hidden': 'true' }, STEP_ICONS[s.status] ?? '·'),
            h('span', { class: 'what' }, h('b', null, s.id), ` ${s.action} · ${s.device ?? 'no device'}`),
            h('span', { class: 'status' }, STEP_WORDS[s.status]),
            s.reason && (s.status === 'failed' || s.status === 'blocked') ? h('span', { class: 'reason' }, s.status === 'blocked' ? this.reasonOf(s.reason) : s.reason) : null,
          ),
        ),
      ),
      this.o.canOperate
        ? this.actions(m, [
            m.status === 'paused'
              ? { label: 'Resume', cls: 'resume', run: () => this.o.api.json('POST', `/v1/missions/${m.id}/resume`, {}) }
              : m.status === 'running'
                ? { label: 'Pause', cls: 'pause', run: () => this.o.api.json('POST', `/v1/missions/${m.id}/pause`, {}) }
                : undefined,
            {
              label: 'Cancel mission',
              cls: 'reject',
              confirm: `Cancel ${name}? Work in progress is stopped and the rest does not run.`,
              run: () => this.o.api.json('POST', `/v1/missions/${m.id}/cancel`, { reason: `cancelled on the tablet by ${this.o.who}` }),
            },
          ])
        : null,
      this.errorOf(m.id),
    );
  }

  private finishedCard(m: MissionSummary): HTMLElement {
    const name = m.name ?? m.id;
    const failed = m.steps.filter((s) => s.status === 'failed');
    const done = m.steps.filter((s) => s.status === 'succeeded').length;
    return h(
      'article',
      { class: `card mission finished status-${m.status}`, 'data-mission': m.id, 'aria-label': `Mission ${name}, ${MISSION_WORDS[m.status]}` },
      h('header', null, h('span', { class: `chip status-${m.status}` }, `${m.status === 'succeeded' ? '✓ ' : m.status === 'failed' ? '✗ ' : ''}${MISSION_WORDS[m.status]}`), h('h3', null, name)),
      h(
        'p',
        { class: 'outcome' },
        `${clock(m.endedAt ?? m.updatedAt)} · ${done} of ${m.steps.length} steps done`,
        failed.length > 0 ? ` · failed: ${failed.map((s) => s.id).join(', ')}` : '',
      ),
      m.reason ? h('p', { class: 'outcome-reason' }, `${MISSION_WORDS[m.status]}: ${m.reason}`) : null,
    );
  }

  private actions(m: MissionSummary, list: ({ label: string; cls: string; confirm?: string; run: () => Promise<unknown> } | undefined)[]): HTMLElement {
    const box = h('div', { class: 'actions' });
    const confirming = list.find((a) => a && this.confirming === `${m.id}:${a.label}`);
    if (confirming) {
      box.classList.add('confirming');
      box.append(
        h('p', { class: 'confirm-question' }, confirming.confirm ?? ''),
        h('button', { type: 'button', class: `big ${confirming.cls}`, onclick: () => this.run(m.id, confirming.run) }, `Yes, ${confirming.label.toLowerCase()}`),
        h('button', { type: 'button', class: 'big secondary', onclick: () => this.setConfirming(undefined) }, 'No, keep it'),
      );
      return box;
    }
    for (const a of list) {
      if (!a) continue;
      box.append(
        h(
          'button',
          { type: 'button', class: `big ${a.cls}`, disabled: this.busy.has(m.id), onclick: () => (a.confirm ? this.setConfirming(`${m.id}:${a.label}`) : this.run(m.id, a.run)) },
          a.label,
        ),
      );
    }
    return box;
  }

  private setConfirming(what: string | undefined): void {
    this.confirming = what;
    this.render();
  }

  private async run(id: string, action: () => Promise<unknown>): Promise<void> {
    this.confirming = undefined;
    this.errors.delete(id);
    this.busy.add(id);
    this.render();
    try {
      await action();
    } catch (e) {
      this.errors.set(id, plainError(e));
    } finally {
      this.busy.delete(id);
    }
    await this.refresh();
    this.render();
  }

  private errorOf(id: string): HTMLElement | null {
    const e = this.errors.get(id);
    return e ? h('p', { class: 'error', role: 'alert' }, e) : null;
  }
}

function fact(term: string, ...value: (string | HTMLElement)[]): HTMLElement {
  return h('div', null, h('dt', null, term), h('dd', null, ...value));
}
