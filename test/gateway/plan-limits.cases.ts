// Input limits (issue #13, finding 4): a plan's ids, `after` lists and roles are bounded, and so is
// the work its unknown names cost, so no plan within the body limit makes a long check or a huge
// report. The plan of the finding (257 KB: 200 steps with 600-character ids and unknown `after`
// ids; its check took 132 s and answered 24.7 MB) is refused at once, with the paths.
import t from 'tap';
import { MAX_AFTER, MAX_ID_LENGTH, MAX_ROLES } from '../../planners/plan.ts';
import { appFor, canonicalPlan, type TestApp } from './harness.ts';

const check = (h: TestApp, payload: unknown) => h.app.inject({ method: 'POST', url: '/v1/plans/check', headers: h.auth('agent'), payload: payload as object });
const pad = (s: string, n: number) => (s + 'x'.repeat(n)).slice(0, n);
const waitStep = (id: string, after?: string[]) => ({ id, action: 'wait', device: 'arm-1', params: { seconds: 1 }, ...(after ? { after } : {}) });

interface Problem {
  path: string;
  message: string;
}

t.test("the finding's 257 KB plan with 600-character ids is 400 VALIDATION_FAILED naming each id, nothing stored", async (t) => {
  const h = await appFor(t);
  const steps = Array.from({ length: 200 }, (_, i) => waitStep(pad(`s${i}-`, 600), [pad(`unknown-${i}-`, 600)]));
  const body = JSON.stringify({ plan: { schema: 'phygate.plan/v1', name: 'finding-4', steps } });
  t.ok(Buffer.byteLength(body) > 250_000 && Buffer.byteLength(body) < 256 * 1024, `the body is ${Buffer.byteLength(body)} bytes, under the body limit`);
  for (const url of ['/v1/plans/check', '/v1/missions']) {
    const res = await h.app.inject({ method: 'POST', url, headers: { ...h.auth('agent'), 'content-type': 'application/json' }, payload: body });
    t.equal(res.statusCode, 400, `${url}: 400`);
    const json = res.json();
    t.equal(json.code, 'VALIDATION_FAILED');
    const problems = json.details.problems as Problem[];
    t.ok(problems.some((p) => p.path === 'plan.steps.0.id' && p.message === `at most ${MAX_ID_LENGTH} characters`), `${url}: the first id is too long`);
    t.ok(problems.some((p) => p.path === 'plan.steps.199.after.0'), `${url}: and the last step's after id`);
  }
  t.equal(h.store.missions.list({ limit: 10 }).length, 0, 'no mission was stored');
});

t.test('each limit at its edge: one more is a 400 at its path', async (t) => {
  const h = await appFor(t);
  const plan = canonicalPlan();
  const ok = await check(h, { plan: { ...plan, steps: [waitStep(pad('a', MAX_ID_LENGTH)), waitStep('b', Array.from({ length: MAX_AFTER }, () => pad('a', MAX_ID_LENGTH)))] } });
  t.equal(ok.statusCode, 200, `an id of ${MAX_ID_LENGTH} characters and ${MAX_AFTER} after ids are checked`);
  const roles = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`r${i}`, { kind: 'amr' }]));
  t.equal((await check(h, { plan: { ...plan, roles: roles(MAX_ROLES), steps: [waitStep('a')] } })).statusCode, 200, `${MAX_ROLES} roles are checked`);
  const cases: Record<string, { plan: unknown; path: string }> = {
    [`an id of ${MAX_ID_LENGTH + 1} characters`]: { plan: { ...plan, steps: [waitStep(pad('a', MAX_ID_LENGTH + 1))] }, path: 'plan.steps.0.id' },
    [`${MAX_AFTER + 1} after ids`]: { plan: { ...plan, steps: [waitStep('a'), waitStep('b', Array.from({ length: MAX_AFTER + 1 }, () => 'a'))] }, path: 'plan.steps.1.after' },
    [`${MAX_ROLES + 1} roles`]: { plan: { ...plan, roles: roles(MAX_ROLES + 1), steps: [waitStep('a')] }, path: 'plan.roles' },
    'a role name too long': { plan: { ...plan, roles: { [pad('r', MAX_ID_LENGTH + 1)]: { kind: 'amr' } }, steps: [waitStep('a')] }, path: `plan.roles.${pad('r', MAX_ID_LENGTH + 1)}` },
    'a station name of 129 characters': { plan: { ...plan, steps: [{ id: 'a', action: 'navigate', device: 'amr-1', params: { to: pad('s', 129) } }] }, path: 'plan.steps.0.params.to' },
    'a device name of 129 characters': { plan: { ...plan, steps: [{ ...waitStep('a'), device: pad('d', 129) }] }, path: 'plan.steps.0.device' },
  };
  for (const [what, { plan: p, path }] of Object.entries(cases)) {
    const res = await check(h, { plan: p });
    t.equal(res.statusCode, 400, `${what}: 400`);
    const paths = (res.json().details?.problems ?? []).map((x: Problem) => x.path);
    t.ok(paths.includes(path), `${what}: a problem at ${path} (got ${JSON.stringify(paths.slice(0, 5))})`);
  }
});

t.test('the largest plan of unknown after ids within the limits gets its report, in proportion to the plan', async (t) => {
  const h = await appFor(t);
  // 200 steps, ids of 64 characters, as many unknown 64-character after ids as the body limit lets in.
  const steps = Array.from({ length: 200 }, (_, i) => waitStep(pad(`s${i}-`, MAX_ID_LENGTH), Array.from({ length: 17 }, (_, k) => pad(`s${i}-${k}-unknown-`, MAX_ID_LENGTH))));
  const body = JSON.stringify({ plan: { schema: 'phygate.plan/v1', steps } });
  t.ok(Buffer.byteLength(body) < 256 * 1024, `the body is ${Buffer.byteLength(body)} bytes`);
  const res = await h.app.inject({ method: 'POST', url: '/v1/plans/check', headers: { ...h.auth('agent'), 'content-type': 'application/json' }, payload: body });
  t.equal(res.statusCode, 200);
  const report = res.json();
  const unknown = report.issues.filter((i: { code: string }) => i.code === 'UNKNOWN_DEPENDENCY');
  t.equal(unknown.length, 200 * 17, 'every unknown after id is an issue');
  t.match(unknown[0].hint, /^did you mean 's0-/, 'the first hints suggest the near step id');
  t.match(unknown.at(-1).hint, /^known steps: 200 \(listed in the hints above\)$/, 'the last ones no longer list every step');
  // Before the limits: 9.7 MB for such a plan, 34 times its body.
  t.ok(res.payload.length < 8 * body.length, `the report (${res.payload.length} bytes) is within 8 times the plan's body (${body.length})`);
});
