// The demo site as tests copy it. Its amr-3 is driven by the shipped policy, named in site.yaml
// relative to the site folder (../../policies/amr-track.onnx): a copy in a temporary folder names
// it by its absolute path instead, so the copy drives amr-3 by the same model and certificate.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEMO_SITE_DIR = fileURLToPath(new URL('../../launch/sites/demo', import.meta.url));
/** The trained policy that ships for the demo site; its certificate is beside it. */
export const SHIPPED_POLICY = fileURLToPath(new URL('../../launch/policies/amr-track.onnx', import.meta.url));
const DEMO_POLICY_REF = '../../policies/amr-track.onnx';

/** The demo's site.yaml, its policy model named by absolute path. */
export function demoSiteYaml(): string {
  const yaml = readFileSync(join(DEMO_SITE_DIR, 'site.yaml'), 'utf8');
  if (!yaml.includes(`model: ${DEMO_POLICY_REF} }`)) throw new Error(`the demo site.yaml no longer names ${DEMO_POLICY_REF}: update test/helpers/demo-site.ts`);
  return yaml.replaceAll(`model: ${DEMO_POLICY_REF} }`, `model: ${SHIPPED_POLICY} }`);
}

/** Copies the demo site folder (site.yaml, world.sdf) into `dir`, site.yaml as demoSiteYaml gives it. */
export function copyDemoSite(dir: string): void {
  cpSync(DEMO_SITE_DIR, dir, { recursive: true });
  writeFileSync(join(dir, 'site.yaml'), demoSiteYaml());
}

/**
 * site.yaml without its devices' `policy:` lines: every AMR on the analytic motion model. For a
 * copy whose floor is edited (zones, nodes), where the shipped certificate no longer holds and the
 * gateway would withhold amr-3.
 */
export function withoutPolicies(yaml: string): string {
  return yaml.replace(/^ {4}policy: .*\n/gm, '');
}

/**
 * Copies the demo site into `dir` with every AMR on the analytic motion model. Tests that run
 * missions at high speed and are not about policies use it: a policy-driven AMR at 20-50× keeps a
 * core busy with its control loop while it drives.
 */
export function copyAnalyticDemoSite(dir: string): string {
  copyDemoSite(dir);
  writeFileSync(join(dir, 'site.yaml'), withoutPolicies(demoSiteYaml()));
  return dir;
}
