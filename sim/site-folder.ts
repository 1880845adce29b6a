// A site folder on disk (site.yaml + world.sdf) → the validated site the core works on.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { canonicalJson, sha256, shapeProblems, type ShapeProblem } from '../planners/plan.ts';
import { buildNavGraph, type NavGraph } from '../planners/route.ts';
import { crossCheckSite, indexSite, SiteSchema, type SiteIndex } from '../planners/site.ts';

export interface LoadedSite {
  dir: string;
  index: SiteIndex;
  graph: NavGraph;
  /** sha256 over the world file and the site's graph: a check is only valid for this exact floor. */
  worldHash: string;
  worldSdf: string;
}

export class SiteLoadError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ShapeProblem[],
  ) {
    super(`${file}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
    this.name = 'SiteLoadError';
  }
}

export function loadSiteFolder(dir: string): LoadedSite {
  const root = resolve(dir);
  const file = join(root, 'site.yaml');
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    const message = err instanceof YAMLParseError ? err.message : `cannot read: ${(err as Error).message}`;
    throw new SiteLoadError(file, [{ path: '(file)', message }]);
  }
  const parsed = SiteSchema.safeParse(raw);
  if (!parsed.success) throw new SiteLoadError(file, shapeProblems(parsed.error));
  const site = parsed.data;
  const problems = crossCheckSite(site);
  if (problems.length > 0) throw new SiteLoadError(file, problems);
  const worldFile = join(root, site.world);
  let worldSdf: string;
  try {
    worldSdf = readFileSync(worldFile, 'utf8');
  } catch (err) {
    throw new SiteLoadError(worldFile, [{ path: 'world', message: `cannot read the world file: ${(err as Error).message}` }]);
  }
  return {
    dir: root,
    index: indexSite(site),
    graph: buildNavGraph(site),
    worldHash: sha256(`${sha256(worldSdf)}\n${canonicalJson(site)}`),
    worldSdf,
  };
}
