// `phygate policy verify` (sim/policy-verify.ts): the shipped policy passes on the demo site with
// no keep-out entry and every route between stations driven; a policy with random weights fails;
// the certificate is bound to the model and the floor; the command prints the figures and exits 0 or 1.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { runCli } from '../../gateway/cli/commands.ts';
import { CertificateError, certificateProblem, checkTimeScale, readCertificate, type Certificate } from '../../robots/policy/certificate.ts';
import type { Amr } from '../../planners/site.ts';
import { policyFloorHash } from '../../sim/policy-gate.ts';
import { checkPolicy, loadPolicyFile } from '../../robots/policy/loader.ts';
import { randomMlp } from '../../robots/policy/mlp.ts';
import { writeMlpModel } from '../../robots/policy/model-writer.ts';
import { seededRandom } from '../../robots/policy/track-expert.ts';
import { trackPolicyMetadata } from '../../robots/policy/train.ts';
import { verifyPolicy, verifyEdges, verifyRoutes } from '../../sim/policy-verify.ts';
import { openSiteFolder } from '../../sim/site-folder.ts';
import { DEMO_SITE_DIR } from './fixtures/world.ts';

const SHIPPED = fileURLToPath(new URL('../../launch/policies/amr-track.onnx', import.meta.url));
const site = await openSiteFolder(DEMO_SITE_DIR);
const shipped = await loadPolicyFile(SHIPPED);
const randomBytes = writeMlpModel(randomMlp([8, 32, 32, 2], seededRandom(3)), { metadata: trackPolicyMetadata('0.0.1') });
const randomPolicy = checkPolicy(randomBytes);

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'phygate-verify-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('the edges: every arc of the demo graph but the two through the paint booth', async (t) => {
  const { edges, skipped } = verifyEdges(site, site.index.devicesOfKind('amr')[0]!.limits);
  const arcs = [...site.graph.arcs.values()].reduce((n, a) => n + a.length, 0);
  t.equal(edges.length + skipped.length, arcs);
  t.same(skipped.map((e) => `${e.from}>${e.to}`).sort(), ['booth-in>sa-8', 'sa-8>booth-in']);
  const dock = edges.find((e) => e.to === 'dock-a')!;
  t.equal(dock.station, 'dock-a', 'an approach ends at its station');
  t.equal(dock.path.at(-1)!.theta, site.index.station('dock-a')!.theta, 'turned to its heading');
  t.ok(dock.analyticS > 0);
});

t.test('the shipped policy passes on every edge of the demo site, nominal and perturbed', async (t) => {
  // Every edge, and a dozen routes between stations (the shipped certificate has all of them: below).
  const cert = await verifyPolicy(shipped, site, { variants: 2, maxRoutes: 12 });
  t.equal(cert.passed, true, cert.failures.join('; '));
  t.equal(cert.figures.keepOutEntries, 0);
  t.equal(cert.figures.wallContacts, 0);
  t.equal(cert.figures.rollouts, 72 * 2);
  t.equal(cert.figures.successRate, 1, `${cert.figures.succeeded} of ${cert.figures.rollouts} arrived`);
  t.ok(cert.figures.worstFinalPositionM <= cert.thresholds.maxFinalPositionM);
  t.ok(cert.figures.timeRatio.worst <= cert.thresholds.maxTimeRatio, `worst time ${cert.figures.timeRatio.worst}× the analytic profile`);
  t.ok(cert.figures.timeRatio.mean >= 1, 'never faster than the analytic profile, which drives at the limits');
  t.ok(cert.figures.interventions.acceleration > 0, 'the shield counted its clamps');
  t.equal(cert.model.sha256, shipped.sha256);
  t.equal(cert.site.floorHash, policyFloorHash(site, site.index.device('amr-1') as Amr));
  t.equal(cert.figures.routes.arrived, cert.figures.routes.driven, 'every route between stations driven to the end');
  t.equal(cert.figures.routes.driven, 12);
  t.ok(cert.figures.routes.timeRatio.worst <= cert.thresholds.maxTimeRatio, `worst route ${cert.figures.routes.timeRatio.worst}× the analytic profile`);
  t.ok(cert.figures.routes.timeRatio.worst >= cert.figures.routes.timeRatio.mean);
  t.equal(checkTimeScale(cert), Math.max(1, cert.figures.routes.timeRatio.worst), 'the check times the drives by the worst route');
});

t.test('the shipped certificate is for the shipped model and the demo world', async (t) => {
  const cert = await readCertificate(`${SHIPPED}.cert.json`);
  t.equal(certificateProblem(cert, { modelSha256: shipped.sha256, floorHash: policyFloorHash(site, site.index.device('amr-1') as Amr) }), undefined);
  t.equal(cert.figures.keepOutEntries, 0);
  t.equal(cert.settings.edges, 72);
  t.equal(cert.figures.routes.driven, verifyRoutes(site, (site.index.device('amr-1') as Amr).limits).length, 'every route between stations');
  t.equal(cert.figures.routes.arrived, cert.figures.routes.driven);
});

t.test('a policy with random weights fails', async (t) => {
  const cert = await verifyPolicy(randomPolicy, site, { variants: 1, maxEdges: 6, maxRoutes: 2 });
  t.equal(cert.passed, false);
  t.ok(cert.figures.successRate < cert.thresholds.minSuccessRate, `success rate ${cert.figures.successRate}`);
  t.match(cert.failures.join('; '), /success rate/);
  t.equal(cert.figures.keepOutEntries, 0, 'and the shield still kept it out of the keep-out');
  t.match(certificateProblem(cert, { modelSha256: randomPolicy.sha256, floorHash: cert.site.floorHash }) ?? '', /failed verification: success rate/);
});

t.test('the certificate check refuses another model, another world, and a broken file', async (t) => {
  const cert = await readCertificate(`${SHIPPED}.cert.json`);
  t.match(certificateProblem(cert, { modelSha256: randomPolicy.sha256, floorHash: cert.site.floorHash }) ?? '', /for another model/);
  t.match(certificateProblem(cert, { modelSha256: shipped.sha256, floorHash: 'f'.repeat(64) }) ?? '', /for another floor or robot/);
  const dir = tempDir();
  await t.rejects(readCertificate(join(dir, 'none.cert.json')), { code: 'POLICY_CERTIFICATE', message: /no certificate/ });
  const bad: Partial<Certificate> = { ...cert, passed: 'yes' as unknown as boolean };
  writeFileSync(join(dir, 'bad.cert.json'), JSON.stringify(bad));
  await t.rejects(readCertificate(join(dir, 'bad.cert.json')), new CertificateError(join(dir, 'bad.cert.json'), 'passed: Invalid input: expected boolean, received string'));
});

t.test('phygate policy verify prints the figures, writes the certificate, exits 0 or 1', async (t) => {
  const dir = tempDir();
  const run = async (argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, (l) => out.push(l), (l) => err.push(l));
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const good = await run(['policy', 'verify', SHIPPED, '--site', DEMO_SITE_DIR, '--edges', '4', '--routes', '3', '--variants', '2', '--out', join(dir, 'good.json')]);
  t.equal(good.code, 0, good.err);
  for (const figure of [/success rate: 100\.0% \(8 of 8\)/, /worst cross-track error: [\d.]+ m/, /worst final pose error/, /least clearance to walls/, /keep-out entries: 0/, /shield interventions: .*acceleration \d+/, /time per edge against the analytic profile/, /time per route between stations .*\(3 of 3 routes driven to the end\); the plan check times this policy's drives at [\d.]+×/, /PASSED/])
    t.match(good.out, figure);
  const written = await readCertificate(join(dir, 'good.json'));
  t.equal(written.passed, true);
  t.equal(written.settings.edges, 4);

  const model = join(dir, 'random.onnx');
  writeFileSync(model, randomBytes);
  const bad = await run(['policy', 'verify', model, '--site', DEMO_SITE_DIR, '--edges', '2', '--routes', '1', '--variants', '1']);
  t.equal(bad.code, 1);
  t.match(bad.out, /FAILED: success rate 0\.0% is below 95\.0%/);
  t.equal((await readCertificate(`${model}.cert.json`)).passed, false, 'the default certificate is beside the model');

  const notModel = join(dir, 'not.onnx');
  writeFileSync(notModel, 'hello');
  t.equal((await run(['policy', 'verify', notModel, '--site', DEMO_SITE_DIR])).code, 2);
  const noDevice = await run(['policy', 'verify', SHIPPED, '--site', DEMO_SITE_DIR, '--device', 'cnc-1']);
  t.equal(noDevice.code, 2);
  t.match(noDevice.err, /site 'demo' has no AMR 'cnc-1'/);
  const badNumber = await run(['policy', 'verify', SHIPPED, '--variants', '0']);
  t.equal(badNumber.code, 2);
  t.match(badNumber.err, /--variants must be a whole number of at least 1/);
  const help = await run(['policy', '--help']);
  t.equal(help.code, 0);
  t.match(help.out, /phygate policy verify MODEL/);
  t.match(help.out, /--variants N/);
});
