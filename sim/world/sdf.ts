// The subset of a Gazebo world (SDF ≤ 1.9) that a 2D plan checker needs: the collision shapes
// of models, seen from above. Everything that could be an obstacle but is not read (meshes,
// planes, includes from outside the site folder, tilted poses) is listed in `ignored`, so a
// report can say what the check did not see. Nothing is ever fetched over the network.
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export type ObstacleShape = { kind: 'box'; hx: number; hy: number } | { kind: 'circle'; r: number };

/** One collision shape seen from above: centre (x, y), heading (yaw) and vertical extent, in world metres. */
export interface Obstacle {
  /** Scoped model name (`outer::inner` for nested models); hits are reported by this name. */
  model: string;
  link: string;
  collision: string;
  shape: ObstacleShape;
  x: number;
  y: number;
  yaw: number;
  zMin: number;
  zMax: number;
  /** Non-static models are obstacles too (they stand where the world puts them) but may move. */
  static: boolean;
}

/** Something that could be an obstacle but was not read, or was read approximately. */
export interface IgnoredElement {
  /** Element path, e.g. `world/model[shelf]/link[base]/collision[c]/geometry/mesh`. */
  path: string;
  reason: string;
}

export interface ParsedWorld {
  obstacles: Obstacle[];
  ignored: IgnoredElement[];
}

export interface ParseWorldOptions {
  /** The site folder: the only place includes are resolved from. */
  baseDir: string;
  /** Name of the world file, for error messages. */
  file?: string;
}

export class WorldLoadError extends Error {
  constructor(
    readonly detail: string,
    readonly file?: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    const where = [file ?? 'world', line, column].filter((p) => p !== undefined).join(':');
    super(`${where}: ${detail}`);
    this.name = 'WorldLoadError';
  }
}

export const NOT_FETCHED = 'not fetched: includes are resolved from the site folder only';

export function parseWorld(sdfText: string, opts: ParseWorldOptions): ParsedWorld {
  const file = opts.file ?? 'world.sdf';
  const root = parseXml(sdfText, file);
  const sdf = children(root, 'sdf')[0];
  if (sdf === undefined) throw new WorldLoadError('no <sdf> root element', file);
  const worlds = children(sdf, 'world');
  const world = worlds[0];
  if (world === undefined) throw new WorldLoadError('no <world> element', file);
  const walk = new WorldWalk(resolve(opts.baseDir), file);
  worlds.slice(1).forEach((w) => walk.ignore(`world[${nameOf(w)}]`, 'only the first <world> of a file is read'));
  walk.contents(world, IDENTITY, '', 'world', false, walk.baseDir);
  for (const actor of children(world, 'actor')) {
    walk.ignore(`world/actor[${nameOf(actor)}]`, 'actor: moves on its own script, not a fixed obstacle');
  }
  return { obstacles: walk.obstacles, ignored: walk.ignored };
}

// ---- XML ---------------------------------------------------------------------------------

/** Every element is an array of nodes; a node is its text (leaf without attributes) or an object. */
type XmlNode = string | { [key: string]: unknown };

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  textNodeName: '#text',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  isArray: (_name, _path, _leaf, isAttribute) => !isAttribute,
});

function parseXml(text: string, file: string): XmlNode {
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new WorldLoadError(`malformed XML: ${valid.err.msg}`, file, valid.err.line, valid.err.col);
  try {
    return parser.parse(text) as XmlNode;
  } catch (err) {
    throw new WorldLoadError(`malformed XML: ${(err as Error).message}`, file);
  }
}

function children(node: XmlNode, name: string): XmlNode[] {
  if (typeof node === 'string') return [];
  const v = node[name];
  return Array.isArray(v) ? (v as XmlNode[]) : [];
}

function text(node: XmlNode | undefined): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.trim();
  const t = node['#text'];
  return typeof t === 'string' ? t.trim() : '';
}

function attr(node: XmlNode, name: string): string | undefined {
  if (typeof node === 'string') return undefined;
  const v = node[`@_${name}`];
  return typeof v === 'string' ? v : undefined;
}

function nameOf(node: XmlNode): string {
  return attr(node, 'name') ?? '';
}

/** Child element names, attributes and text left out. */
function elementNames(node: XmlNode): string[] {
  return typeof node === 'string' ? [] : Object.keys(node).filter((k) => !k.startsWith('@_') && k !== '#text');
}

function bool(node: XmlNode | undefined): boolean | undefined {
  if (node === undefined) return undefined;
  const t = text(node);
  return t === 'true' || t === '1';
}

// ---- poses (2D: x, y, yaw; z kept for the vertical extent) -----------------------------------

interface Pose2 {
  x: number;
  y: number;
  z: number;
  yaw: number;
}

const IDENTITY: Pose2 = { x: 0, y: 0, z: 0, yaw: 0 };

/** `child` is expressed in `parent`'s frame; the result is in the frame `parent` is expressed in. */
function compose(parent: Pose2, child: Pose2): Pose2 {
  const c = Math.cos(parent.yaw);
  const s = Math.sin(parent.yaw);
  return {
    x: parent.x + c * child.x - s * child.y,
    y: parent.y + s * child.x + c * child.y,
    z: parent.z + child.z,
    yaw: normalizeAngle(parent.yaw + child.yaw),
  };
}

function normalizeAngle(a: number): number {
  const r = Math.atan2(Math.sin(a), Math.cos(a));
  return Math.abs(r) < 1e-12 ? 0 : r;
}

const TILT_EPS = 1e-9;

// ---- the walk ----------------------------------------------------------------------------

interface ModelOverride {
  name?: string;
  pose?: Pose2;
  static?: boolean;
}

class WorldWalk {
  readonly obstacles: Obstacle[] = [];
  readonly ignored: IgnoredElement[] = [];
  /** Files being included, for cycle detection. */
  private readonly including: string[] = [];

  constructor(
    readonly baseDir: string,
    private readonly file: string,
  ) {}

  /** The file being read now, for error messages: the world or the include being read. */
  private get current(): string {
    const included = this.including[this.including.length - 1];
    return included === undefined ? this.file : relative(this.baseDir, included);
  }

  ignore(path: string, reason: string): void {
    this.ignored.push({ path, reason });
  }

  /** Models and includes directly inside a world or a model. */
  contents(node: XmlNode, frame: Pose2, scope: string, path: string, isStatic: boolean, dir: string): void {
    for (const model of children(node, 'model')) this.model(model, frame, scope, path, isStatic, dir);
    for (const include of children(node, 'include')) this.include(include, frame, scope, path, isStatic, dir);
  }

  private model(node: XmlNode, parent: Pose2, scope: string, parentPath: string, parentStatic: boolean, dir: string, override: ModelOverride = {}): void {
    const name = override.name ?? nameOf(node);
    const path = `${parentPath}/model[${name}]`;
    const scoped = scope ? `${scope}::${name}` : name;
    if (attr(node, 'placement_frame')) this.ignore(`${path}/@placement_frame`, 'placement_frame not supported: the pose places the model frame');
    const own = this.pose(node, path);
    const frame = compose(parent, override.pose ?? own);
    const isStatic = parentStatic || (override.static ?? bool(children(node, 'static')[0]) ?? false);
    for (const link of children(node, 'link')) this.link(link, frame, scoped, path, isStatic);
    this.contents(node, frame, scoped, path, isStatic, dir);
  }

  private link(node: XmlNode, model: Pose2, modelName: string, modelPath: string, isStatic: boolean): void {
    const name = nameOf(node);
    const path = `${modelPath}/link[${name}]`;
    const frame = compose(model, this.pose(node, path));
    for (const col of children(node, 'collision')) {
      const colName = nameOf(col);
      const colPath = `${path}/collision[${colName}]`;
      const pose = compose(frame, this.pose(col, colPath));
      const geometry = children(col, 'geometry')[0];
      if (geometry === undefined) {
        this.ignore(colPath, 'collision without <geometry>');
        continue;
      }
      for (const kind of elementNames(geometry)) {
        const shapeNode = children(geometry, kind)[0]!;
        const read = this.shape(kind, shapeNode, `${colPath}/geometry/${kind}`);
        if (!read) continue;
        this.obstacles.push({
          model: modelName,
          link: name,
          collision: colName,
          shape: read.shape,
          x: pose.x,
          y: pose.y,
          yaw: read.shape.kind === 'circle' ? 0 : pose.yaw,
          zMin: pose.z - read.halfHeight,
          zMax: pose.z + read.halfHeight,
          static: isStatic,
        });
      }
    }
  }

  private shape(kind: string, node: XmlNode, path: string): { shape: ObstacleShape; halfHeight: number } | undefined {
    switch (kind) {
      case 'box': {
        const [sx, sy, sz] = this.numbers(children(node, 'size')[0], 3, '1 1 1', `${path}/size`);
        if (!(sx > 0 && sy > 0 && sz > 0)) return this.skip(path, 'box with a zero or negative size');
        return { shape: { kind: 'box', hx: sx / 2, hy: sy / 2 }, halfHeight: sz / 2 };
      }
      case 'cylinder':
      case 'capsule': {
        const [r] = this.numbers(children(node, 'radius')[0], 1, kind === 'capsule' ? '0.5' : '1', `${path}/radius`);
        const [length] = this.numbers(children(node, 'length')[0], 1, '1', `${path}/length`);
        if (!(r > 0 && length >= 0)) return this.skip(path, `${kind} with a zero or negative size`);
        return { shape: { kind: 'circle', r }, halfHeight: length / 2 + (kind === 'capsule' ? r : 0) };
      }
      case 'sphere': {
        const [r] = this.numbers(children(node, 'radius')[0], 1, '1', `${path}/radius`);
        if (!(r > 0)) return this.skip(path, 'sphere with a zero or negative radius');
        return { shape: { kind: 'circle', r }, halfHeight: r };
      }
      case 'empty':
        return undefined;
      case 'plane':
        return this.skip(path, 'plane: ground, not an obstacle');
      case 'mesh':
        return this.skip(path, 'mesh: not read by the 2D checker; give the model a box or cylinder collision');
      case 'heightmap':
        return this.skip(path, 'heightmap: terrain, not read by the 2D checker');
      default:
        return this.skip(path, `${kind}: not read by the 2D checker`);
    }
  }

  private skip(path: string, reason: string): undefined {
    this.ignore(path, reason);
    return undefined;
  }

  private include(node: XmlNode, parent: Pose2, scope: string, parentPath: string, parentStatic: boolean, dir: string): void {
    const uri = text(children(node, 'uri')[0]);
    const path = `${parentPath}/include[${uri}]`;
    const target = resolveInclude(uri, this.baseDir, dir);
    if ('reason' in target) {
      this.ignore(path, target.reason);
      return;
    }
    if (this.including.includes(target.file)) {
      this.ignore(path, 'include cycle: the file is already being included');
      return;
    }
    const doc = parseXml(readFileSync(target.file, 'utf8'), relative(this.baseDir, target.file));
    const model = children(children(doc, 'sdf')[0] ?? '', 'model')[0];
    if (model === undefined) {
      this.ignore(path, 'the included file holds no <model>');
      return;
    }
    const poseNode = children(node, 'pose')[0];
    const override: ModelOverride = {
      name: text(children(node, 'name')[0]) || undefined,
      // SDFormat: an include's <pose> replaces the included model's own pose.
      pose: poseNode === undefined ? undefined : this.pose(node, path),
      static: bool(children(node, 'static')[0]),
    };
    if (children(node, 'placement_frame').length > 0) this.ignore(`${path}/placement_frame`, 'placement_frame not supported: the pose places the model frame');
    this.including.push(target.file);
    try {
      this.model(model, parent, scope, parentPath, parentStatic, dirname(target.file), override);
    } finally {
      this.including.pop();
    }
  }

  /** The element's own <pose> (identity when absent), relative to its parent frame. */
  private pose(node: XmlNode, path: string): Pose2 {
    const poseNode = children(node, 'pose')[0];
    if (poseNode === undefined) return IDENTITY;
    const posePath = `${path}/pose`;
    const relativeTo = attr(poseNode, 'relative_to');
    if (relativeTo) this.ignore(`${posePath}/@relative_to`, `relative_to '${relativeTo}' not supported: the pose was taken relative to the parent frame`);
    const format = attr(poseNode, 'rotation_format') ?? 'euler_rpy';
    const degrees = attr(poseNode, 'degrees') === 'true' || attr(poseNode, 'degrees') === '1';
    let x: number, y: number, z: number, roll: number, pitch: number, yaw: number;
    if (format === 'quat_xyzw') {
      const [px, py, pz, qx, qy, qz, qw] = this.numbers(poseNode, 7, '0 0 0 0 0 0 1', posePath);
      [x, y, z] = [px, py, pz];
      roll = Math.atan2(2 * (qw * qx + qy * qz), 1 - 2 * (qx * qx + qy * qy));
      pitch = Math.asin(Math.max(-1, Math.min(1, 2 * (qw * qy - qz * qx))));
      yaw = Math.atan2(2 * (qw * qz + qx * qy), 1 - 2 * (qy * qy + qz * qz));
    } else if (format === 'euler_rpy') {
      const k = degrees ? Math.PI / 180 : 1;
      [x, y, z, roll, pitch, yaw] = this.numbers(poseNode, 6, '0 0 0 0 0 0', posePath);
      [roll, pitch, yaw] = [roll * k, pitch * k, yaw * k];
    } else {
      throw new WorldLoadError(`${posePath}: unknown rotation_format '${format}'`, this.current);
    }
    if (Math.abs(roll) > TILT_EPS || Math.abs(pitch) > TILT_EPS) {
      this.ignore(posePath, 'roll/pitch not zero: approximated by x, y and yaw (the tilt is not seen from above)');
    }
    return { x, y, z, yaw };
  }

  /** Exactly `count` finite numbers from the element's text; `fallback` when the element is absent or empty. */
  private numbers(node: XmlNode | undefined, count: 1, fallback: string, path: string): [number];
  private numbers(node: XmlNode | undefined, count: 3, fallback: string, path: string): [number, number, number];
  private numbers(node: XmlNode | undefined, count: 6, fallback: string, path: string): [number, number, number, number, number, number];
  private numbers(node: XmlNode | undefined, count: 7, fallback: string, path: string): [number, number, number, number, number, number, number];
  private numbers(node: XmlNode | undefined, count: number, fallback: string, path: string): number[] {
    const raw = node === undefined || text(node) === '' ? fallback : text(node);
    const values = raw.split(/\s+/).map(Number);
    if (values.length !== count || values.some((v) => !Number.isFinite(v))) {
      throw new WorldLoadError(`${path}: expected ${count} number${count === 1 ? '' : 's'}, got '${raw}'`, this.current);
    }
    return values;
  }
}

// ---- includes ----------------------------------------------------------------------------

/**
 * An include's uri → a model file inside the site folder. Relative paths and `file://` paths
 * resolve against the including file's folder, `model://name[/file]` against `baseDir/models`;
 * a folder means its `model.sdf`. Anything else (http, package://, paths leaving the folder,
 * symlinks out of it) is not followed.
 */
export function resolveInclude(uri: string, baseDir: string, fromDir: string = baseDir): { file: string } | { reason: string } {
  if (uri === '') return { reason: 'include without <uri>' };
  let candidate: string;
  if (uri.startsWith('model://')) {
    candidate = resolve(baseDir, 'models', uri.slice('model://'.length));
  } else if (uri.startsWith('file://')) {
    const p = decodeURIComponent(uri.slice('file://'.length));
    candidate = isAbsolute(p) ? p : resolve(fromDir, p);
  } else if (/^[a-z][a-z0-9+.-]*:/i.test(uri)) {
    return { reason: NOT_FETCHED };
  } else {
    candidate = isAbsolute(uri) ? uri : resolve(fromDir, uri);
  }
  if (!inside(baseDir, candidate)) return { reason: NOT_FETCHED };
  if (existsSync(candidate) && statSync(candidate).isDirectory()) candidate = join(candidate, 'model.sdf');
  if (!existsSync(candidate)) return { reason: `not found in the site folder: ${relative(baseDir, candidate)}` };
  if (!inside(realpathSync(baseDir), realpathSync(candidate))) return { reason: NOT_FETCHED };
  return { file: candidate };
}

function inside(dir: string, p: string): boolean {
  const rel = relative(dir, p);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}
