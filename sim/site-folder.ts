// A site folder on disk (site.yaml + world.sdf) → the validated site the core works on.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { canonicalJson, sha256, shapeProblems, type ShapeProblem } from '../planners/plan.ts';
import { buildNavGraph, type NavGraph } from '../planners/route.ts';
import { crossCheckSite, indexSite, SiteSchema, type Site, type SiteIndex } from '../planners/site.ts';
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

/** The parsed YAML of a site file, or a SiteLoadError saying why it cannot be read. */
function readSiteYaml(file: string): unknown {
  try {
    return parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    const message = err instanceof YAMLParseError ? err.message : `cannot read: ${(err as Error).message}`;
    throw new SiteLoadError(file, [{ path: '(file)', message }]);
  }
}

export function loadSiteFolder(dir: string): LoadedSite {
  const root = resolve(dir);
  const file = join(root, 'site.yaml');
  const raw = readSiteYaml(file);
  const parsed = SiteSchema.safeParse(raw);
  if (!parsed.success) throw new SiteLoadError(file, shapeProblems(parsed.error));
  const site = parsed.data;
  const problems = crossCheckSite(site);
  if (problems.length > 0) throw new SiteLoadError(file, problems);
  const { worldSdf, world } = readWorld(root, site);
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
 * The site's world: its world file, or, for a site without one, a world made of its `walls`
 * (boxes in an SDF world, so the checker, the world hash and the Gazebo generator read it as they
 * read a file).
 */
function readWorld(root: string, site: Site): { worldSdf: string; world: ParsedWorld } {
  const worldFile = site.world === undefined ? undefined : join(root, site.world);
  let worldSdf: string;
  if (worldFile === undefined) worldSdf = wallsWorld(site);
  else {
    try {
      worldSdf = readFileSync(worldFile, 'utf8');
    } catch (err) {
      throw new SiteLoadError(worldFile, [{ path: 'world', message: `cannot read the world file: ${(err as Error).message}` }]);
    }
  }
  try {
    return { worldSdf, world: parseWorld(worldSdf, { baseDir: root, file: worldFile ?? join(root, 'site.yaml') }) };
  } catch (err) {
    if (err instanceof WorldLoadError) throw new SiteLoadError(err.file ?? worldFile ?? join(root, 'site.yaml'), [{ path: 'world', message: err.detail }]);
    throw err;
  }
}

/** An SDF world holding the site's walls as static boxes. */
export function wallsWorld(site: Pick<Site, 'id' | 'walls'>): string {
  const f = (n: number) => String(Number(n.toFixed(6)));
  const models = (site.walls ?? []).map((w) => {
    const [x1, y1] = w.from;
    const [x2, y2] = w.to;
    const size = `${f(Math.hypot(x2 - x1, y2 - y1) + w.thickness)} ${f(w.thickness)} ${f(w.height)}`;
    const geometry = `<geometry><box><size>${size}</size></box></geometry>`;
    return [
      `    <model name="wall-${w.id}">`,
      '      <static>true</static>',
      `      <pose>${f((x1 + x2) / 2)} ${f((y1 + y2) / 2)} ${f(w.height / 2)} 0 0 ${f(Math.atan2(y2 - y1, x2 - x1))}</pose>`,
      `      <link name="link"><collision name="collision">${geometry}</collision><visual name="visual">${geometry}</visual></link>`,
      '    </model>',
    ].join('\n');
  });
  return ['<?xml version="1.0"?>', `<!-- The walls of site '${site.id}', drawn in its site.yaml. -->`, '<sdf version="1.9">', `  <world name="${site.id}">`, ...models, '  </world>', '</sdf>', ''].join('\n');
}

/** Every problem of a site folder that can be found: one category does not hide the next where it can be helped. */
export async function validateSiteFolder(dir: string): Promise<{ site?: LoadedSite; problems: { file: string; path: string; message: string }[] }> {
  const root = resolve(dir);
  const file = join(root, 'site.yaml');
  let raw: unknown;
  try {
    raw = readSiteYaml(file);
  } catch (err) {
    return { problems: (err as SiteLoadError).problems.map((p) => ({ file, ...p })) };
  }
  const parsed = SiteSchema.safeParse(raw);
  // A site of the wrong shape cannot be cross-checked; its world file can still be read.
  const problems = parsed.success ? crossCheckSite(parsed.data).map((p) => ({ file, ...p })) : shapeProblems(parsed.error).map((p) => ({ file, ...p }));
  const shape = (raw ?? {}) as { world?: unknown };
  const worldOf = parsed.success ? parsed.data : typeof shape.world === 'string' ? ({ world: shape.world } as Site) : undefined;
  if (worldOf) {
    try {
      readWorld(root, worldOf);
    } catch (err) {
      if (!(err instanceof SiteLoadError)) throw err;
      problems.push(...err.problems.map((p) => ({ file: err.file, ...p })));
    }
  }
  if (!parsed.success || problems.length > 0) return { problems };
  try {
    return { site: await openSiteFolder(root), problems: [] };
  } catch (err) {
    if (!(err instanceof SiteLoadError)) throw err;
    return { problems: err.problems.map((p) => ({ file: err.file, ...p })) };
  }
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
    `world ${site.index.site.world ?? `of ${site.index.site.walls?.length ?? 0} walls in site.yaml`}: ${obstacles.length} obstacle shapes read${ignored.length > 0 ? `; ${ignored.length} element(s) not read:` : ''}`,
    ...ignored.map((i) => `  ${i.path}: ${i.reason}`),
  ];
}
