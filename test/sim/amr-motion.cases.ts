// A virtual AMR's run along nav-graph nodes: where it is at each moment, on the planners' clock.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import type { Amr } from '../../planners/site.ts';
import { angleDiff, departsS, planRun, poseAt, reachedS, startOnFirstEdgeS } from '../../sim/amr-motion.ts';
import { loadSiteFolder } from '../../sim/site-folder.ts';

const demo = loadSiteFolder(fileURLToPath(new URL('../../launch/sites/demo', import.meta.url)));
const limits = (demo.index.device('amr-1') as Amr).limits;
const close = (a: number, b: number, eps = 1e-9) => Math.abs(a - b) < eps;

t.test('the run keeps the profile times: it stands on each node when the profile says it arrives', async (t) => {
  const run = planRun(demo.graph, ['dock-a', 'sa-1', 'sa-2', 'sa-3', 'shelf-1'], limits, -Math.PI / 2, Math.PI / 2)!;
  t.ok(run);
  for (let k = 0; k < run.nodes.length; k++) {
    const p = poseAt(run, reachedS(run, k));
    const n = demo.index.node(run.nodes[k]!)!;
    t.ok(close(p.x, n.x) && close(p.y, n.y), `at ${n.id} when it is reached`);
  }
  t.equal(reachedS(run, 4), run.route.timeS, 'the last node is reached after its final turn, at the end of the profile');
});

t.test('it turns in place at the start and at corners, and drives straight between nodes', async (t) => {
  const run = planRun(demo.graph, ['dock-a', 'sa-1', 'sa-2'], limits, -Math.PI / 2)!;
  const start = poseAt(run, 0);
  t.match(start, { x: 4, y: 1.5, speed: 0 });
  t.ok(close(start.theta, -Math.PI / 2), 'facing the dock at first');
  const turned = departsS(run, 0);
  t.ok(turned > 3, `a half turn at 1 rad/s takes about π s (${turned.toFixed(2)})`);
  const mid = poseAt(run, turned / 2);
  t.ok(close(mid.x, 4) && close(mid.y, 1.5) && mid.omega !== 0, 'turning on the spot');
  const driving = poseAt(run, (turned + reachedS(run, 1)) / 2);
  t.ok(close(driving.x, 4) && driving.y > 1.5 && driving.y < 4 && driving.speed > 0, 'halfway up the spur');
  t.ok(close(driving.theta, Math.PI / 2), 'heading north');
  const corner = poseAt(run, (reachedS(run, 1) + departsS(run, 1)) / 2);
  t.ok(close(corner.x, 4) && close(corner.y, 4), 'turning east at sa-1');
  const end = poseAt(run, 1e9);
  t.ok(close(end.x, 8) && close(end.y, 4) && close(end.theta, 0), 'at sa-2 heading east, however late one asks');
});

t.test('no run where no edge leads', async (t) => {
  t.equal(planRun(demo.graph, ['dock-a', 'sa-2'], limits, 0), undefined);
  t.ok(close(angleDiff(3, -3), 2 * Math.PI - 6), 'the short way round across ±π');
});

t.test('a run starting behind an AMR halted on its first edge starts where the AMR stands', async (t) => {
  // dock-a (4, 1.5) → sa-1 (4, 4): heading +y.
  const run = planRun(demo.graph, ['dock-a', 'sa-1', 'sa-2'], limits, Math.PI / 2)!;
  const halted = { x: 4, y: 2.5 };
  const t0 = startOnFirstEdgeS(run, halted, 0.1);
  t.ok(t0 > departsS(run, 0) && t0 < reachedS(run, 1), 'a time on the first edge');
  const p = poseAt(run, t0);
  t.ok(close(p.x, halted.x) && close(p.y, halted.y), `the pose there is where it stands (${p.x}, ${p.y})`);
  t.ok(close(p.theta, Math.PI / 2), 'heading along the edge');
  t.equal(startOnFirstEdgeS(run, { x: 4, y: 1.55 }, 0.1), 0, 'on the first node (within tolerance): from the start');
  t.equal(startOnFirstEdgeS(run, { x: 4.5, y: 2.5 }, 0.1), 0, 'off the edge: from the start');
  t.equal(startOnFirstEdgeS(run, { x: 4, y: 1 }, 0.1), 0, 'behind the first node: from the start');
  t.equal(startOnFirstEdgeS(run, { x: 4, y: 4.5 }, 0.1), 0, 'beyond the edge: from the start');
});
