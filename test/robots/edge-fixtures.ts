// What the edge's tests share: the demo site, the shipped policy with its certificate, the tests'
// own tracking policy with a failed certificate made by the real verifier, and the gateway's
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
import { DEMO_SITE_DIR, SHIPPED_POLICY } from '../gateway/harness.ts';
import { startMosquitto, type TestBroker } from '../helpers/brokers.ts';
import { writeTracker } from '../sim/policy-tracker.ts';

export const demoSite = loadSiteFolder(DEMO_SITE_DIR);
export const edgeSite = edgeSiteOf(demoSite);

export interface CertifiedTracker {
  dir: string;
  /** The tests' own tracking model, with no certificate beside it. */
  model: string;
  failedCert: string;
}

/** The shipped policy and its certificate for the demo site: a model that may drive. */
export const CERTIFIED = { model: SHIPPED_POLICY, cert: `${SHIPPED_POLICY}.cert.json` };

/** The tracker in a temp folder (removed when `t` ends), and a certificate of it that failed (the real verifier on one edge, the default thresholds). */
export async function certifiedTracker(t: Test): Promise<CertifiedTracker> {
  const dir = mkdtempSync(join(tmpdir(), 'phygate-edge-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const model = writeTracker(dir);
  const failedCert = join(dir, 'failed.cert.json');
  const cert = await verifyPolicy(await loadPolicyFile(model), demoSite, { device: 'amr-1', variants: 1, maxEdges: 1, maxRoutes: 0 });
  if (cert.passed) throw new Error('the tracker should have failed the default thresholds');
  writeFileSync(failedCert, JSON.stringify(cert));
  return { dir, model, failedCert };
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
