// Part counts at the stations a plan feeds: a `machine.run` of `count` parts leaves that many at its
// machine's station when it ends; a `convey` of `count` takes that many from the conveyor's
// in-station when it starts and leaves them at its out-station when it ends; an `arm.transfer`
// takes one part from its `from` station when it starts and, onto a station, leaves it there when
// it ends. A station the plan puts parts on is counted from zero, in the checked order of events
// (what ends at a moment before what starts then); a step that takes more than is there gets a
// PARTS_SHORT warning. A station the plan never puts parts on, or where an AMR drops a tote (parts
// of a count the plan does not say), is not counted: what waits there already is not known.
import { issue, type Issue, type StepTiming } from './report.ts';
import type { Device } from './site.ts';

interface PartStep {
  step: { id: string; action: string; params?: Record<string, unknown> };
  device: Device;
  /** arm.transfer onto an AMR: the AMR (the part rides with it, not counted). */
  targetAmr?: string;
}

interface PartEvent {
  t: number;
  /** Ends (supplies) before starts (takes) at the same moment. */
  order: 0 | 1;
  station: string;
  delta: number;
  step: string;
  device: string;
}

const countOf = (params: Record<string, unknown> | undefined): number => (typeof params?.count === 'number' ? params.count : 1);

export function partIssues(steps: readonly PartStep[], timings: readonly StepTiming[]): Issue[] {
  const timing = new Map(timings.map((s) => [s.id, s]));
  const events: PartEvent[] = [];
  const unknown = new Set<string>();
  for (const { step, device, targetAmr } of steps) {
    const t = timing.get(step.id);
    if (!t || t.blocked) continue;
    const at = (time: number, order: 0 | 1, station: string, delta: number) => events.push({ t: time, order, station, delta, step: step.id, device: device.id });
    if (step.action === 'machine.run' && (device.kind === 'cnc' || device.kind === 'printer')) at(t.endS, 0, device.station, countOf(step.params));
    else if (step.action === 'convey' && device.kind === 'conveyor') {
      const n = countOf(step.params);
      at(t.startS, 1, device.from, -n);
      at(t.endS, 0, device.to, n);
    } else if (step.action === 'arm.transfer' && typeof step.params?.from === 'string') {
      at(t.startS, 1, step.params.from, -1);
      if (!targetAmr && typeof step.params.to === 'string') at(t.endS, 0, step.params.to, 1);
    } else if (step.action === 'drop' && typeof step.params?.at === 'string') unknown.add(step.params.at);
  }
  const fed = new Set(events.filter((e) => e.delta > 0).map((e) => e.station));
  const counts = new Map<string, number>();
  const issues: Issue[] = [];
  for (const e of events.sort((a, b) => a.t - b.t || a.order - b.order)) {
    if (!fed.has(e.station) || unknown.has(e.station)) continue;
    const have = counts.get(e.station) ?? 0;
    if (e.delta < 0 && have < -e.delta) {
      issues.push(
        issue('PARTS_SHORT', {
          step: e.step,
          device: e.device,
          message: `'${e.step}' takes ${-e.delta} part${e.delta === -1 ? '' : 's'} from ${e.station} at ${e.t.toFixed(1)} s, but the plan has put ${have} there by then`,
          hint: `make the steps that bring parts to ${e.station} come first (after: [...]), bring more, or take fewer (count)`,
        }),
      );
    }
    counts.set(e.station, Math.max(0, have + e.delta));
  }
  return issues;
}
