// The certificate `phygate policy verify` writes: what a policy did in closed loop on one site's
// floor, bound to the model's SHA-256 and the floor's hash (sim/policy-gate.ts), so it says
// nothing about another model, another floor or a robot of another size. The gateway reads it to
// withhold a robot whose policy has none for the current floor, or whose verification failed.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { INTERVENTION_REASONS, type InterventionReason } from './shield.ts';

export const CERTIFICATE_SCHEMA = 'phygate.policy-certificate/v1';
/** Where a certificate goes by default: beside the model, `amr-track.onnx.cert.json`. */
export const CERTIFICATE_SUFFIX = '.cert.json';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a hex SHA-256');
const count = z.number().int().nonnegative();
const metres = z.number().finite();

export const ThresholdsSchema = z.strictObject({
  /** Share of roll-outs that must arrive (within the arrival tolerance, no contact, no keep-out). */
  minSuccessRate: z.number().min(0).max(1),
  maxCrossTrackM: metres,
  maxFinalPositionM: metres,
  maxFinalHeadingRad: metres,
  minWallClearanceM: metres,
  maxKeepOutEntries: count,
  /** Worst nominal roll-out's time against the analytic motion profile of the same edge. */
  maxTimeRatio: z.number().positive(),
});

export const EdgeFiguresSchema = z.strictObject({
  from: z.string(),
  to: z.string(),
  /** The station the edge approaches (the roll-out ends turned to its heading), if any. */
  station: z.string().optional(),
  analyticS: z.number().nonnegative(),
  /** The nominal roll-out's time to arrive; null when it did not. */
  nominalS: z.number().nonnegative().nullable(),
  rollouts: count,
  succeeded: count,
});

const ratios = z.strictObject({ mean: z.number().nonnegative(), worst: z.number().nonnegative() });

const interventions = z.strictObject(Object.fromEntries(INTERVENTION_REASONS.map((r) => [r, count])) as Record<InterventionReason, typeof count>);

export const FiguresSchema = z.strictObject({
  rollouts: count,
  succeeded: count,
  successRate: z.number().min(0).max(1),
  worstCrossTrackM: metres,
  worstFinalPositionM: metres,
  worstFinalHeadingRad: metres,
  /** Least distance from the footprint to any wall or machine over every roll-out (capped at 1 m). */
  minWallClearanceM: metres,
  wallContacts: count,
  keepOutEntries: count,
  interventions,
  timeRatio: ratios,
  /**
   * Every route from one station to another, driven nominally edge by edge as a policy-driven AMR
   * follows a route: the time of a plan's drives with this policy against the check's analytic
   * profile. The check stretches a policy-driven robot's drives by the worst ratio.
   */
  routes: z.strictObject({ driven: count, arrived: count, timeRatio: ratios }),
});

export const CertificateSchema = z.strictObject({
  schema: z.literal(CERTIFICATE_SCHEMA),
  model: z.strictObject({ sha256: sha256Hex, name: z.string(), version: z.string(), controls: z.string() }),
  /** `floorHash`: what the roll-outs depended on (sim/policy-gate.ts policyFloorHash); `device`: the AMR whose footprint and limits they used. */
  site: z.strictObject({ id: z.string(), floorHash: sha256Hex, device: z.string() }),
  verifiedAt: z.iso.datetime(),
  settings: z.strictObject({ seed: z.number().int(), variants: count, rateHz: z.number().positive(), edges: count }),
  thresholds: ThresholdsSchema,
  figures: FiguresSchema,
  edges: z.array(EdgeFiguresSchema),
  /** Edges not rolled out, and why (one into a keep-out zone: the shield never lets a policy drive there). */
  skipped: z.array(z.strictObject({ from: z.string(), to: z.string(), reason: z.string() })),
  /** Each threshold the figures missed, in words; empty when passed. */
  failures: z.array(z.string()),
  passed: z.boolean(),
});

export type Certificate = z.infer<typeof CertificateSchema>;
export type CertificateThresholds = z.infer<typeof ThresholdsSchema>;
export type CertificateFigures = z.infer<typeof FiguresSchema>;

export class CertificateError extends Error {
  readonly code = 'POLICY_CERTIFICATE';
  constructor(
    readonly file: string,
    readonly detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'CertificateError';
  }
}

/** Reads and checks a certificate file; a missing, unreadable or malformed one is a CertificateError. */
export async function readCertificate(path: string): Promise<Certificate> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CertificateError(path, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no certificate (run phygate policy verify)' : `cannot read: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new CertificateError(path, `not JSON: ${(err as Error).message}`);
  }
  const parsed = CertificateSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CertificateError(path, `${issue.path.join('.') || '(certificate)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** Why this certificate does not let this model drive on this world, or undefined when it does. */
export function certificateProblem(cert: Certificate, current: { modelSha256: string; floorHash: string }): string | undefined {
  if (cert.model.sha256 !== current.modelSha256) return `the certificate is for another model (sha256 ${cert.model.sha256.slice(0, 12)}…, this one is ${current.modelSha256.slice(0, 12)}…)`;
  if (cert.site.floorHash !== current.floorHash) {
    return `the certificate is for another floor or robot (floor hash ${cert.site.floorHash.slice(0, 12)}…, here ${current.floorHash.slice(0, 12)}…: the world, nav graph, stations, zones or the robot's footprint or limits changed): verify the policy again on this site`;
  }
  if (!cert.passed) return `the policy failed verification: ${cert.failures.join('; ') || 'no reason recorded'}`;
  return undefined;
}

/**
 * How much longer than the analytic profile the plan check takes a drive of a robot this
 * certificate lets the policy drive: the worst time ratio of the routes between stations, never
 * less than 1 (a policy that is faster somewhere is not counted on to be).
 */
export function checkTimeScale(cert: Certificate): number {
  return Math.max(1, cert.figures.routes.timeRatio.worst);
}
