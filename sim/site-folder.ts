// A site folder on disk (site.yaml + world.sdf) → the validated site the core works on.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { canonicalJson, sha256, shapeProblems, type ShapeProblem } from '../planners/plan.ts';
import { buildNavGraph, type NavGraph } from '../planners/route.ts';
import { crossCheckSite, indexSite, SiteSchema, type SiteIndex } from '../planners/site.ts';
import { createCollisionWorld } from './world/collision.ts';
import { parseWorld, WorldLoadError, type ParsedWorld } from './world/sdf.ts';
import { checkSiteAgainstWorld } from './world/validate.ts';

export interface LoadedSite {
  dir: string;
  index: SiteIndex;
  graph: NavGraph;
  /** sha256 over the world file and the site's graph: a check is only valid for this exact floor. */
  worldHash: string;
  worldSdf: string;
  /** The world's obstacles seen from above, and what of the world the checker did not read. */
  world: ParsedWorld;
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
  let world: ParsedWorld;
  try {
    world = parseWorld(worldSdf, { baseDir: root, file: worldFile });
  } catch (err) {
    if (err instanceof WorldLoadError) throw new SiteLoadError(err.file ?? worldFile, [{ path: 'world', message: err.detail }]);
    throw err;
  }
  return {
    dir: root,
    index: indexSite(site),
    graph: buildNavGraph(site),
    worldHash: sha256(`${sha256(worldSdf)}\n${canonicalJson(site)}`),
    worldSdf,
    world,
  };
}

/**
 * Load a site folder and check its nav graph against its world with the collision engine: no
 * node or edge may run through an obstacle for the site's AMRs. A broken site is a SiteLoadError
 * listing every node and edge that collides.
 */
export async function openSiteFolder(dir: string): Promise<LoadedSite> {
  const loaded = loadSiteFolder(dir);
  const collisions = await createCollisionWorld(loaded.world.obstacles);
  try {
    const problems = checkSiteAgainstWorld(loaded.index.site, loaded.world.obstacles, collisions);
    if (problems.length > 0) {
      throw new SiteLoadError(join(loaded.dir, 'site.yaml'), problems.map((p) => ({ path: `${p.kind === 'node' ? 'nodes' : 'edges'}.${p.id}`, message: p.message })));
    }
  } finally {
    collisions.free();
  }
  return loaded;
}

/** One line on what the checker read of the world, and one per element it did not read. */
export function describeWorld(site: LoadedSite): string[] {
  const { obstacles, ignored } = site.world;
  return [
    `world ${site.index.site.world}: ${obstacles.length} obstacle shapes read${ignored.length > 0 ? `; ${ignored.length} element(s) not read:` : ''}`,
    ...ignored.map((i) => `  ${i.path}: ${i.reason}`),
  ];
}
