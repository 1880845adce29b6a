// `phygate policy verify MODEL [--site DIR] [--out CERT] …`: certifies a policy on a site in
// simulation (sim/policy-verify.ts) and writes the certificate the gateway will ask for.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CERTIFICATE_SUFFIX } from '../../robots/policy/certificate.ts';
import { PolicyContractError } from '../../robots/policy/contract.ts';
import { loadPolicyFile, type LoadedPolicy } from '../../robots/policy/loader.ts';
import { describeCertificate, verifyPolicy } from '../../sim/policy-verify.ts';
import { openSiteFolder } from '../../sim/site-folder.ts';
import { DEFAULT_SITE_DIR } from '../config.ts';

type Out = (line: string) => void;

export const POLICY_VERIFY_USAGE = 'phygate policy verify MODEL [--site DIR] [--out CERT] [--device ID] [--variants N] [--edges N] [--routes N] [--seed N]';

export async function policyCommand(argv: string[], userPath: (p: string) => string, out: Out, err: Out): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'verify') {
    err(`usage: ${POLICY_VERIFY_USAGE}`);
    return 2;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    options: { site: { type: 'string' }, out: { type: 'string' }, device: { type: 'string' }, variants: { type: 'string' }, edges: { type: 'string' }, routes: { type: 'string' }, seed: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) {
    err(`usage: ${POLICY_VERIFY_USAGE}`);
    return 2;
  }
  const numbers: Record<string, number | undefined> = {};
  for (const [name, min] of [['variants', 1], ['edges', 1], ['routes', 0], ['seed', 0]] as const) {
    const text = values[name];
    if (text === undefined) continue;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) {
      err(`--${name} must be a whole number of at least ${min}, not '${text}'`);
      return 2;
    }
    numbers[name] = n;
  }
  const modelFile = userPath(positionals[0]!);
  let policy: LoadedPolicy;
  try {
    policy = await loadPolicyFile(modelFile);
  } catch (e) {
    if (e instanceof PolicyContractError) err(`${modelFile}: ${e.message}`);
    else err(`cannot read ${modelFile}: ${(e as Error).message}`);
    return 2;
  }
  const site = await openSiteFolder(values.site !== undefined ? userPath(values.site) : resolve(process.env.PHYGATE_SITE || DEFAULT_SITE_DIR));
  const amrs = site.index.devicesOfKind('amr');
  if (values.device !== undefined ? !amrs.some((d) => d.id === values.device) : amrs.length === 0) {
    err(values.device !== undefined ? `site '${site.index.site.id}' has no AMR '${values.device}'` : `site '${site.index.site.id}' has no AMR to verify a policy for`);
    return 2;
  }
  const cert = await verifyPolicy(policy, site, { device: values.device, variants: numbers.variants, maxEdges: numbers.edges, maxRoutes: numbers.routes, seed: numbers.seed });
  for (const line of describeCertificate(cert)) out(line);
  const certFile = values.out !== undefined ? userPath(values.out) : modelFile + CERTIFICATE_SUFFIX;
  try {
    writeFileSync(certFile, `${JSON.stringify(cert, null, 2)}\n`);
  } catch (e) {
    err(`cannot write ${certFile}: ${(e as Error).message}`);
    return 2;
  }
  out(`wrote the certificate to ${certFile}`);
  return cert.passed ? 0 : 1;
}
