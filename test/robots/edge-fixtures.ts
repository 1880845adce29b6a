// What the edge's tests share: the demo site, the tests' own tracking policy with a passing and a
// failed certificate, both made by the real verifier (the passing one on the whole floor), and the gateway's
// side: a real Mosquitto and the real VDA 5050 master, the order progress it hears collected.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import { loadPolicyFile } from '../../robots/policy/loader.ts';
import { Vda5050Master, type OrderProgress } from '../../robots/vda5050/master.ts';
import { verifyPolicy } from '../../sim/policy-verify.ts';
import { edgeSiteOf } from '../../sim/policy-gate.ts';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { DEMO_SITE_DIR } from '../gateway/harness.ts';
import { startMosquitto, type TestBroker } from '../helpers/brokers.ts';
import { writeTracker } from '../sim/policy-tracker.ts';

export const demoSite = loadSiteFolder(DEMO_SITE_DIR);
export const edgeSite = edgeSiteOf(demoSite);

export interface CertifiedTracker {
  dir: string;
  model: string;
  goodCert: string;
  failedCert: string;
}

/**
 * A certificate of the tracker on the demo site, by the real verifier. The tracker is a
 * plain controller, not a trained policy, and does not meet the shipped thresholds (it arrives
 * too slowly): a passing certificate is made with thresholds of this test's own, which the
 * certificate records; a failed one with the default thresholds.
 */
async function certify(model: string, file: string, pass: boolean): Promise<void> {
  const policy = await loadPolicyFile(model);
  const loose = { minSuccessRate: 0, maxCrossTrackM: 10, maxFinalPositionM: 10, maxFinalHeadingRad: 10, minWallClearanceM: 0, maxKeepOutEntries: 0, maxTimeRatio: 1e9 };
  // The passing one covers the whole floor, as the gateway and the edge require; the failed one needs only an edge.
  const cert = await verifyPolicy(policy, demoSite, { device: 'amr-1', variants: 1, ...(pass ? { thresholds: loose } : { maxEdges: 1, maxRoutes: 0 }) });
  if (cert.passed !== pass) throw new Error(`the certificate should have ${pass ? 'passed' : 'failed'}: ${cert.failures.join('; ')}`);
  writeFileSync(file, JSON.stringify(cert));
}

/** The tracker in a temp folder (removed when `t` ends), its passing certificate beside it, and a failed one (unless `failed: false`). */
export async function certifiedTracker(t: Test, opts: { failed?: boolean } = {}): Promise<CertifiedTracker> {
  const dir = mkdtempSync(join(tmpdir(), 'phygate-edge-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const model = writeTracker(dir);
  const goodCert = join(dir, 'tracker.onnx.cert.json');
  const failedCert = join(dir, 'failed.cert.json');
  await certify(model, goodCert, true);
  if (opts.failed !== false) await certify(model, failedCert, false);
  return { dir, model, goodCert, failedCert };
}

/** A real Mosquitto and the real VDA 5050 master on it (stopped when `t` ends). */
export async function edgeMaster(t: Test): Promise<{ broker: TestBroker; master: Vda5050Master; fleet: FleetRegistry; progress: OrderProgress[] }> {
  const broker = await startMosquitto(t);
  const fleet = new FleetRegistry(edgeSite.index);
  const client = await connectMqtt({ url: broker.url, clientId: `edge-master-${process.pid}-${Math.random().toString(36).slice(2)}` });
  t.teardown(() => closeMqtt(client, true));
  const master = new Vda5050Master({ client, site: edgeSite.index, fleet, graph: edgeSite.graph });
  await master.start();
  t.teardown(() => master.stop());
  const progress: OrderProgress[] = [];
  master.onOrderProgress((p) => progress.push(p));
  return { broker, master, fleet, progress };
}
