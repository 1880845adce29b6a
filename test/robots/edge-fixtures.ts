// What the edge's tests share: the demo site, and the tests' own tracking policy with a passing
// and a failed certificate, both made by the real verifier on the site's first edge.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { loadPolicyFile } from '../../robots/policy/loader.ts';
import { verifyPolicy } from '../../sim/policy-verify.ts';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { DEMO_SITE_DIR } from '../gateway/harness.ts';
import { writeTracker } from '../sim/policy-tracker.ts';

export const edgeSite = loadSiteFolder(DEMO_SITE_DIR);

export interface CertifiedTracker {
  dir: string;
  model: string;
  goodCert: string;
  failedCert: string;
}

/**
 * A certificate of the tracker on the site's first edge, by the real verifier. The tracker is a
 * plain controller, not a trained policy, and does not meet the shipped thresholds (it arrives
 * too slowly): a passing certificate is made with thresholds of this test's own, which the
 * certificate records; a failed one with the default thresholds.
 */
async function certify(model: string, file: string, pass: boolean): Promise<void> {
  const policy = await loadPolicyFile(model);
  const loose = { minSuccessRate: 0, maxCrossTrackM: 10, maxFinalPositionM: 10, maxFinalHeadingRad: 10, minWallClearanceM: 0, maxKeepOutEntries: 0, maxTimeRatio: 1e9 };
  const cert = await verifyPolicy(policy, edgeSite, { device: 'amr-1', variants: 1, maxEdges: 1, ...(pass ? { thresholds: loose } : {}) });
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
