// GET /v1/missions/{id}/plan.svg: the stored report of a mission drawn on the site's floor plan.
import t from 'tap';
import { XMLValidator } from 'fast-xml-parser';
import { appFor, canonicalPlan, failingPlan } from './harness.ts';

t.test("a mission's plan as SVG: 200, image/svg+xml, its routes and verdict", async (t) => {
  const h = await appFor(t);
  const submitted = await h.app.inject({ method: 'POST', url: '/v1/missions', headers: h.auth('agent'), payload: { plan: canonicalPlan() } });
  t.equal(submitted.statusCode, 201, submitted.body.slice(0, 300));
  const mission = submitted.json() as { id: string; status: string; report: { verdict: string; planHash: string; assignments: Record<string, string> } };

  const res = await h.app.inject({ method: 'GET', url: `/v1/missions/${mission.id}/plan.svg`, headers: h.auth('viewer') });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'image/svg+xml; charset=utf-8');
  t.equal(res.headers['cache-control'], 'no-store', 'the title names the status, which changes');
  const svg = res.body;
  t.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), 'an SVG document');
  t.equal(XMLValidator.validate(svg), true, 'well-formed XML');
  t.match(svg, /<title>brackets-to-shelf · awaiting approval<\/title>/, 'titled with the mission name and status');
  const courier = mission.report.assignments.courier!;
  t.match(svg, new RegExp(`class="route" data-device="${courier}" data-step="fetch"`), "the courier's fetch route");
  t.match(svg, new RegExp(`class="route" data-device="${courier}" data-step="carry"`), 'and its carry route');
  t.match(svg, new RegExp(`class="verdict" data-verdict="${mission.report.verdict}"`), "the stored report's verdict");
  t.match(svg, new RegExp(`plan ${mission.report.planHash.slice(0, 12)}`), 'and its planHash prefix');
  t.ok((svg.match(/class="obstacle /g) ?? []).length >= h.site.world.obstacles.length, "every obstacle of the site's world");
  t.match(svg, /class="zone keep-out" data-zone="paint-booth"/, "the site's zones");

  const again = await h.app.inject({ method: 'GET', url: `/v1/missions/${mission.id}/plan.svg`, headers: h.auth('admin') });
  t.equal(again.body, svg, 'the same picture every time');
});

t.test('a rejected mission is drawn too, with verdict fail', async (t) => {
  const h = await appFor(t);
  const rejected = await h.app.inject({ method: 'POST', url: '/v1/missions', headers: h.auth('agent'), payload: { plan: failingPlan() } });
  t.equal(rejected.statusCode, 422);
  const id = rejected.json().details.mission.id as string;
  const res = await h.app.inject({ method: 'GET', url: `/v1/missions/${id}/plan.svg`, headers: h.auth('viewer') });
  t.equal(res.statusCode, 200);
  t.match(res.body, /class="verdict" data-verdict="fail"/);
  t.match(res.body, /<title>bad-plan · rejected<\/title>/);
  t.match(res.body, /data-code="UNKNOWN_LOCATION"/, 'the issues are listed');
});

t.test('an unknown mission is 404 NOT_FOUND; without a token 401', async (t) => {
  const h = await appFor(t);
  const unknown = await h.app.inject({ method: 'GET', url: '/v1/missions/m_00000000000000000000000000/plan.svg', headers: h.auth('viewer') });
  t.equal(unknown.statusCode, 404);
  t.match(unknown.json(), { code: 'NOT_FOUND', message: /m_00000000000000000000000000/ });

  const anonymous = await h.app.inject({ method: 'GET', url: '/v1/missions/m_00000000000000000000000000/plan.svg' });
  t.equal(anonymous.statusCode, 401);
  t.equal(anonymous.json().code, 'UNAUTHORIZED');
  t.match(anonymous.headers['www-authenticate'], /^Bearer/);
});

t.test('the route is in the API description', async (t) => {
  const h = await appFor(t);
  const doc = (await h.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, { summary?: string }>> };
  t.match(doc.paths['/v1/missions/{id}/plan.svg']?.get?.summary, /SVG/);
});
