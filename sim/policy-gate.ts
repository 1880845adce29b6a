// Which learned policies the gateway lets drive: an AMR whose device in site.yaml says `policy:`
// is used only when its model fits the contract and has a passing certificate for this floor
// (`phygate policy verify`). Otherwise the gateway says why at start and withholds the device. A
// cleared policy's certified timing is what the plan check times that robot's drives by, so the
// check predicts the driving the policy does, not the analytic profile's.
import { resolve } from 'node:path';
import { canonicalJson, sha256 } from '../planners/plan.ts';
import { indexSite, protocolOf, type Amr } from '../planners/site.ts';
import { CERTIFICATE_SUFFIX, certificateProblem, checkTimeScale, readCertificate, type Certificate } from '../robots/policy/certificate.ts';
import { verifyEdges, verifyRoutes } from './policy-verify.ts';
import type { EdgeSite } from '../robots/edge/edge.ts';
import type { LoadedSite } from './site-folder.ts';

/**
 * What a policy's roll-outs depended on: the world's obstacles, the nav graph with its speed
 * limits, the stations, the zones, and the robot's footprint and limits. A certificate is bound to
 * it, so changing anything else in site.yaml (machines, policies, batteries) keeps a certificate
 * valid, and one AMR's certificate holds for another of the same size and limits.
 */
export function policyFloorHash(site: LoadedSite, device: Pick<Amr, 'footprint' | 'limits'>): string {
  const s = site.index.site;
  return sha256(
    canonicalJson({
      world: sha256(site.worldSdf),
      nodes: s.nodes,
      edges: s.edges,
      stations: s.stations,
      zones: s.zones,
      footprint: device.footprint,
      limits: device.limits,
    }),
  );
}

export interface PolicyClearance {
  device: string;
  /** The model file, resolved. */
  model: string;
  /** The certificate file, resolved. */
  certificate: string;
  /** Why the device is withheld; undefined when the policy may drive it. */
  problem?: string;
  /** Cleared: the model by name, and how much longer than the analytic profile the check takes its drives. */
  cleared?: { name: string; version: string; sha256: string; timeScale: number };
}

/** The certificate file of a device's policy: `certificate:` in its `policy` block, else beside the model. */
export function certificateFileOf(site: LoadedSite, policy: NonNullable<Amr['policy']>): string {
  return resolve(site.dir, policy.certificate ?? `${policy.model}${CERTIFICATE_SUFFIX}`);
}

/** Every AMR with `policy:`, cleared or with the reason it is withheld. Loads models (not onnxruntime). */
export async function clearPolicies(site: LoadedSite): Promise<PolicyClearance[]> {
  // One with a `ros2` block is driven over Nav2 (planners/site.ts protocolOf): no policy drives it.
  const amrs = site.index.devicesOfKind('amr').filter((d) => d.policy && protocolOf(d) !== 'ros2');
  if (amrs.length === 0) return [];
  const { loadPolicyFile } = await import('../robots/policy/loader.ts');
  const out: PolicyClearance[] = [];
  for (const d of amrs) {
    const model = resolve(site.dir, d.policy!.model);
    const certificate = certificateFileOf(site, d.policy!);
    const base = { device: d.id, model, certificate };
    let sha: string;
    let name: string;
    let version: string;
    try {
      const policy = await loadPolicyFile(model);
      ({ sha256: sha } = policy);
      ({ name, version } = policy.metadata);
    } catch (err) {
      out.push({ ...base, problem: `its policy model ${model} cannot be used: ${(err as Error).message}` });
      continue;
    }
    let cert: Certificate;
    try {
      cert = await readCertificate(certificate);
    } catch (err) {
      out.push({ ...base, problem: `its policy ${name} ${version} has no usable certificate: ${(err as Error).message}` });
      continue;
    }
    const problem = policyCertificateProblem(site, d, cert, sha);
    if (problem) out.push({ ...base, problem: `its policy ${name} ${version} is not certified for this floor: ${problem} (${certificate})` });
    else out.push({ ...base, cleared: { name, version, sha256: sha, timeScale: checkTimeScale(cert) } });
  }
  return out;
}

/**
 * Why this certificate does not let a model (by SHA-256) drive this AMR on this floor — another
 * model, another floor or robot size, a failed verification, or one that covers only part of the
 * floor — or undefined when it does. The gateway and `phygate edge` decide by it alike.
 */
export function policyCertificateProblem(site: LoadedSite, amr: Amr, cert: Certificate, modelSha256: string): string | undefined {
  return certificateProblem(cert, { modelSha256, floorHash: policyFloorHash(site, amr) }) ?? incomplete(cert, site, amr);
}

/** Why a certificate does not cover the whole floor (made with --edges or --routes for a quick look), if it does not. */
function incomplete(cert: Certificate, site: LoadedSite, amr: Amr): string | undefined {
  const edges = verifyEdges(site, amr.limits).edges.length;
  const routes = verifyRoutes(site, amr.limits).length;
  if (cert.settings.edges < edges || cert.figures.routes.driven < routes) {
    return `the certificate covers ${cert.settings.edges} of ${edges} edges and ${cert.figures.routes.driven} of ${routes} routes between stations: verify without --edges or --routes`;
  }
  return undefined;
}

/**
 * The site as the check sees it: each cleared policy-driven AMR's drives stretched by its
 * certified time scale (planners/motion.ts `timeScale`). The world hash stays the site's.
 */
export function withCertifiedTiming(site: LoadedSite, clearances: readonly PolicyClearance[]): LoadedSite {
  const scale = new Map(clearances.flatMap((c) => (c.cleared && c.cleared.timeScale !== 1 ? [[c.device, c.cleared.timeScale] as const] : [])));
  if (scale.size === 0) return site;
  const devices = site.index.site.devices.map((d) => (d.kind === 'amr' && scale.has(d.id) ? { ...d, limits: { ...d.limits, timeScale: scale.get(d.id)! } } : d));
  return { ...site, index: indexSite({ ...site.index.site, devices }) };
}

/** The site as `phygate edge` needs it: the folder, and the gateway's rule for certificates on this floor. */
export function edgeSiteOf(site: LoadedSite): EdgeSite {
  return { dir: site.dir, index: site.index, graph: site.graph, certificateProblem: (amr, cert, sha) => policyCertificateProblem(site, amr, cert, sha) };
}
