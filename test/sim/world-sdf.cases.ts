// Reading a Gazebo world: the collision shapes a 2D checker needs, and a list of what it did not read.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createCollisionWorld } from '../../sim/world/collision.ts';
import { NOT_FETCHED, parseWorld, resolveInclude, WorldLoadError, type Obstacle } from '../../sim/world/sdf.ts';
import { DEMO_WORLD_FILE, model, tempDir, world } from './fixtures/world.ts';

const demo = () => parseWorld(readFileSync(DEMO_WORLD_FILE, 'utf8'), { baseDir: join(DEMO_WORLD_FILE, '..') });
const parse = (sdf: string, baseDir = '/nonexistent-site') => parseWorld(sdf, { baseDir });
const one = (obstacles: Obstacle[], name: string): Obstacle => {
  const found = obstacles.filter((o) => o.model === name);
  if (found.length !== 1) throw new Error(`expected one obstacle of ${name}, got ${found.length}`);
  return found[0]!;
};
const near = (a: number, b: number) => Math.abs(a - b) < 1e-9;

t.test('the demo world: walls, racks, machines, the arm pedestal, chargers, pillars, booth, lift', async (t) => {
  const { obstacles } = demo();
  t.same(
    [...new Set(obstacles.map((o) => o.model))].sort(),
    [
      'arm_1', 'charger_1', 'charger_2', 'cnc_1', 'conveyor_1', 'lift', 'mezzanine', 'paint_booth',
      'pillar_1', 'pillar_2', 'pillar_3', 'pillar_4', 'printer_1', 'shelf_rack_1', 'shelf_rack_2', 'shelf_rack_3',
      'wall_east', 'wall_north', 'wall_south', 'wall_west',
    ],
  );
  t.match(one(obstacles, 'shelf_rack_1'), { shape: { kind: 'box', hx: 1.2, hy: 0.6 }, x: 13, y: 6.8, yaw: 0, zMin: 0, zMax: 2, static: true });
  t.match(one(obstacles, 'shelf_rack_3'), { x: 21, y: 6.8 });
  t.match(one(obstacles, 'arm_1'), { link: 'pedestal', shape: { kind: 'circle', r: 0.3 }, x: 17.2, y: 14.4, zMax: 0.8 });
  t.match(one(obstacles, 'pillar_4'), { shape: { kind: 'circle', r: 0.25 }, x: 14, y: 17.5 });
  t.match(one(obstacles, 'wall_west'), { shape: { kind: 'box', hx: 0.1, hy: 10.1 }, x: 0, y: 10 });
  t.match(one(obstacles, 'mezzanine'), { zMin: 3 }, 'the deck is 3 m up');
  const booth = obstacles.filter((o) => o.model === 'paint_booth');
  t.same(booth.map((o) => o.collision).sort(), ['wall_north', 'wall_south', 'wall_west_1', 'wall_west_2']);
  t.ok(obstacles.every((o) => o.static), 'everything in the hall is static');
});

t.test('the demo world: the ground plane is the only thing not read; lights and physics are not listed', async (t) => {
  t.same(demo().ignored, [
    { path: 'world/model[ground_plane]/link[link]/collision[collision]/geometry/plane', reason: 'plane: ground, not an obstacle' },
  ]);
});

t.test('the demo world is a valid SDFormat world (ign sdf -k)', async (t) => {
  const out = execFileSync('ign', ['sdf', '-k', DEMO_WORLD_FILE], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 });
  t.match(out, /Valid/);
});

t.test('meshes, remote includes and other unread shapes are listed with their paths; nothing throws or is fetched', async (t) => {
  const { obstacles, ignored } = parse(
    world(`
    <light name="sun" type="directional"><direction>0 0 -1</direction></light>
    <plugin filename="x" name="y"/>
    <model name="shelf"><static>true</static>
      <link name="base">
        <collision name="c"><geometry><mesh><uri>meshes/shelf.dae</uri></mesh></geometry></collision>
        <collision name="p"><geometry><polyline><point>0 0</point><point>1 0</point><point>0 1</point><height>1</height></polyline></geometry></collision>
        <collision name="h"><geometry><heightmap><uri>h.png</uri></heightmap></geometry></collision>
        <collision name="e"><geometry><ellipsoid><radii>1 2 3</radii></ellipsoid></geometry></collision>
        <collision name="none"><geometry><empty/></geometry></collision>
        <collision name="bare"/>
        <visual name="v"><geometry><mesh><uri>meshes/shelf.dae</uri></mesh></geometry></visual>
      </link>
    </model>
    <include><uri>https://example.com/x</uri></include>
    <include><uri>package://pkg/models/y</uri></include>
    <actor name="walker"><skin><filename>walk.dae</filename></skin></actor>`),
  );
  t.same(obstacles, []);
  t.same(ignored, [
    { path: 'world/model[shelf]/link[base]/collision[c]/geometry/mesh', reason: 'mesh: not read by the 2D checker; give the model a box or cylinder collision' },
    { path: 'world/model[shelf]/link[base]/collision[p]/geometry/polyline', reason: 'polyline: not read by the 2D checker' },
    { path: 'world/model[shelf]/link[base]/collision[h]/geometry/heightmap', reason: 'heightmap: terrain, not read by the 2D checker' },
    { path: 'world/model[shelf]/link[base]/collision[e]/geometry/ellipsoid', reason: 'ellipsoid: not read by the 2D checker' },
    { path: 'world/model[shelf]/link[base]/collision[bare]', reason: 'collision without <geometry>' },
    { path: 'world/include[https://example.com/x]', reason: NOT_FETCHED },
    { path: 'world/include[package://pkg/models/y]', reason: NOT_FETCHED },
    { path: 'world/actor[walker]', reason: 'actor: moves on its own script, not a fixed obstacle' },
  ]);
});

t.test('a local include is resolved from the site folder; its <pose> places the model (SDFormat: it replaces the model pose)', async (t) => {
  const site = tempDir(t);
  mkdirSync(join(site, 'models/crate'), { recursive: true });
  writeFileSync(
    join(site, 'models/crate/model.sdf'),
    `<?xml version="1.0"?><sdf version="1.9"><model name="crate"><static>true</static><pose>100 100 0 0 0 0</pose>
       <link name="body"><pose>1 0 0.25 0 0 0</pose>
         <collision name="c"><geometry><box><size>0.6 0.4 0.5</size></box></geometry></collision></link></model></sdf>`,
  );
  const { obstacles, ignored } = parseWorld(
    world(`
    <include><uri>models/crate</uri><name>crate_a</name><pose>5 3 0 0 0 1.5707963267948966</pose></include>
    <include><uri>model://crate</uri></include>
    <include><uri>file://${join(site, 'models/crate/model.sdf')}</uri><name>crate_c</name><pose>0 0 0 0 0 0</pose><static>false</static></include>`),
    { baseDir: site },
  );
  t.same(ignored, []);
  const a = one(obstacles, 'crate_a');
  // Include pose (5, 3, yaw π/2) ∘ link pose (1, 0): the link offset turns to +y.
  t.ok(near(a.x, 5) && near(a.y, 4), `crate_a at (${a.x}, ${a.y})`);
  t.ok(near(a.yaw, Math.PI / 2));
  t.match(a, { link: 'body', collision: 'c', shape: { kind: 'box', hx: 0.3, hy: 0.2 }, zMin: 0, zMax: 0.5, static: true });
  t.match(one(obstacles, 'crate'), { x: 101, y: 100, yaw: 0 }, 'no include pose: the model keeps its own');
  t.match(one(obstacles, 'crate_c'), { x: 1, y: 0, static: false }, 'the include can make it non-static');
});

t.test('includes never leave the site folder', async (t) => {
  const root = tempDir(t);
  const site = join(root, 'site');
  mkdirSync(join(site, 'models'), { recursive: true });
  mkdirSync(join(root, 'outside'));
  writeFileSync(join(root, 'outside/model.sdf'), `<sdf version="1.9">${model('secret', '<box><size>1 1 1</size></box>')}</sdf>`);
  symlinkSync(join(root, 'outside'), join(site, 'models/link_out'));
  t.same(resolveInclude('../outside', site), { reason: NOT_FETCHED });
  t.same(resolveInclude('file:///etc/passwd', site), { reason: NOT_FETCHED });
  t.same(resolveInclude(join(root, 'outside/model.sdf'), site), { reason: NOT_FETCHED });
  t.same(resolveInclude('model://../../outside', site), { reason: NOT_FETCHED });
  t.same(resolveInclude('model://link_out', site), { reason: NOT_FETCHED }, 'a symlink out of the folder');
  t.same(resolveInclude('model://missing', site), { reason: `not found in the site folder: ${join('models', 'missing')}` });
  t.same(resolveInclude('', site), { reason: 'include without <uri>' });
  const { obstacles, ignored } = parseWorld(world('<include><uri>../outside/model.sdf</uri></include>'), { baseDir: site });
  t.same(obstacles, []);
  t.same(ignored, [{ path: 'world/include[../outside/model.sdf]', reason: NOT_FETCHED }]);
});

t.test('nested models and includes inside models compose their poses and scope their names', async (t) => {
  const site = tempDir(t);
  writeFileSync(join(site, 'post.sdf'), `<sdf version="1.9">${model('post', '<cylinder><radius>0.1</radius><length>2</length></cylinder>', '0 0 1 0 0 0')}</sdf>`);
  writeFileSync(join(site, 'loop.sdf'), `<sdf version="1.9"><model name="loop"><include><uri>loop.sdf</uri></include></model></sdf>`);
  writeFileSync(join(site, 'light.sdf'), `<sdf version="1.9"><light name="l" type="point"/></sdf>`);
  const { obstacles, ignored } = parseWorld(
    world(`
    <model name="cell"><static>true</static><pose>10 0 0 0 0 1.5707963267948966</pose>
      <model name="fence"><pose>2 0 0 0 0 0</pose>
        <link name="l"><collision name="c"><geometry><sphere><radius>0.5</radius></sphere></geometry></collision></link>
      </model>
      <include><uri>post.sdf</uri><pose>0 -1 0 0 0 0</pose></include>
    </model>
    <include><uri>loop.sdf</uri></include>
    <include><uri>light.sdf</uri></include>`),
    { baseDir: site },
  );
  const fence = one(obstacles, 'cell::fence');
  t.ok(near(fence.x, 10) && near(fence.y, 2), `the nested model is turned with its parent: (${fence.x}, ${fence.y})`);
  t.match(fence, { shape: { kind: 'circle', r: 0.5 }, zMin: -0.5, zMax: 0.5, static: true });
  const post = one(obstacles, 'cell::post');
  t.ok(near(post.x, 11) && near(post.y, 0), `include inside a model: (${post.x}, ${post.y})`);
  t.match(post, { zMin: -1, zMax: 1 }, 'the include pose replaced the model z');
  t.same(ignored, [
    { path: 'world/model[loop]/include[loop.sdf]', reason: 'include cycle: the file is already being included' },
    { path: 'world/include[light.sdf]', reason: 'the included file holds no <model>' },
  ]);
});

t.test('poses: model ∘ link ∘ collision in 2D, degrees and quaternions; tilts and relative_to are noted', async (t) => {
  const { obstacles, ignored } = parse(
    world(`
    <model name="m"><pose>1 2 0 0 0 1.5707963267948966</pose>
      <link name="l"><pose>1 0 0.5 0 0 0</pose>
        <collision name="c"><pose degrees="true">0 1 0 0 0 90</pose><geometry><box><size>2 1 1</size></box></geometry></collision>
      </link>
    </model>
    <model name="q"><pose rotation_format="quat_xyzw">3 0 0 0 0 0.7071067811865476 0.7071067811865476</pose>
      <link name="l"><collision name="c"><geometry><box/></geometry></collision></link>
    </model>
    <model name="tilted"><pose>0 0 0 0.3 0 0</pose>
      <link name="l"><collision name="c"><pose relative_to="other">0 0 0 0 0 0</pose><geometry><capsule><radius>0.2</radius><length>1</length></capsule></geometry></collision></link>
    </model>`),
  );
  const m = one(obstacles, 'm');
  // Model at (1, 2) facing +y; link 1 m ahead → (1, 3); collision 1 m to the link's left → (0, 3).
  t.ok(near(m.x, 0) && near(m.y, 3), `(${m.x}, ${m.y})`);
  t.ok(near(m.yaw, Math.PI) || near(m.yaw, -Math.PI), `yaw ${m.yaw}`);
  t.match(m, { zMin: 0, zMax: 1, static: false }, 'no <static>: a model that may move');
  const q = one(obstacles, 'q');
  t.ok(near(q.x, 3) && Math.abs(q.yaw - Math.PI / 2) < 1e-9, `quaternion yaw ${q.yaw}`);
  t.match(q.shape, { kind: 'box', hx: 0.5, hy: 0.5 }, 'SDF default box size 1 1 1');
  t.match(one(obstacles, 'tilted'), { shape: { kind: 'circle', r: 0.2 }, zMin: -0.7, zMax: 0.7 });
  t.same(ignored, [
    { path: 'world/model[tilted]/pose', reason: 'roll/pitch not zero: approximated by x, y and yaw (the tilt is not seen from above)' },
    { path: 'world/model[tilted]/link[l]/collision[c]/pose/@relative_to', reason: "relative_to 'other' not supported: the pose was taken relative to the parent frame" },
  ]);
});

t.test('a box turned by π/2 is hit across its swapped extents', async (t) => {
  const { obstacles } = parse(world(model('beam', '<box><size>4 1 1</size></box>', '0 0 0.5 0 0 1.5707963267948966')));
  const cw = await createCollisionWorld(obstacles);
  t.teardown(() => cw.free());
  const probe = { length: 0.2, width: 0.2 };
  t.same(cw.footprintHits(0, 1.5, 0, probe), ['beam'], 'now 4 m long in y');
  t.same(cw.footprintHits(1.5, 0, 0, probe), [], 'and 1 m wide in x');
});

t.test('degenerate sizes are listed, not used', async (t) => {
  const { obstacles, ignored } = parse(
    world(`${model('flat', '<box><size>1 0 1</size></box>')}${model('dot', '<sphere><radius>0</radius></sphere>')}${model('disc', '<cylinder><radius>0</radius><length>1</length></cylinder>')}`),
  );
  t.same(obstacles, []);
  t.same(ignored.map((i) => i.reason), ['box with a zero or negative size', 'sphere with a zero or negative radius', 'cylinder with a zero or negative size']);
});

t.test('placement frames and extra worlds are noted', async (t) => {
  const { ignored } = parse(
    `<sdf version="1.9"><world name="a"><model name="m" placement_frame="f"><link name="l"/></model></world><world name="b"/></sdf>`,
  );
  t.same(ignored.map((i) => i.path), ['world[b]', 'world/model[m]/@placement_frame']);
});

t.test('a broken world file throws WorldLoadError with the line', async (t) => {
  const err = t.throws(() => parseWorld('<sdf version="1.9">\n  <world name="w">\n    <model name="m">\n  </world>\n</sdf>', { baseDir: '.', file: 'world.sdf' }));
  t.ok(err instanceof WorldLoadError);
  t.equal((err as WorldLoadError).file, 'world.sdf');
  t.equal((err as WorldLoadError).line, 4);
  t.match((err as Error).message, /^world\.sdf:4:\d+: malformed XML/);
  t.throws(() => parse('<sdf version="1.9"></sdf>'), { name: 'WorldLoadError', message: /no <world> element/ });
  t.throws(() => parse('<robot/>'), { name: 'WorldLoadError', message: /no <sdf> root element/ });
  t.throws(() => parse(world(model('m', '<box/>', '1 2 three 0 0 0'))), { name: 'WorldLoadError', message: /world\/model\[m\]\/pose: expected 6 numbers, got '1 2 three 0 0 0'/ });
  t.throws(() => parse(world(model('m', '<box><size>1 1</size></box>'))), { name: 'WorldLoadError', message: /geometry\/box\/size: expected 3 numbers/ });
  t.throws(() => parse(world(`<model name="m"><pose rotation_format="axis_angle">0 0 0 0 0 0</pose></model>`)), { message: /unknown rotation_format/ });
});

t.test('a broken included file throws WorldLoadError naming that file', async (t) => {
  const site = tempDir(t);
  writeFileSync(join(site, 'bad.sdf'), '<sdf version="1.9"><model name="x"></sdf>');
  t.throws(() => parseWorld(world('<include><uri>bad.sdf</uri></include>'), { baseDir: site }), { name: 'WorldLoadError', file: 'bad.sdf' });
  writeFileSync(join(site, 'odd.sdf'), `<sdf version="1.9">${model('odd', '<box/>', '0 0')}</sdf>`);
  t.throws(() => parseWorld(world('<include><uri>odd.sdf</uri></include>'), { baseDir: site }), { name: 'WorldLoadError', file: 'odd.sdf', message: /^odd\.sdf: world\/model\[odd\]\/pose: expected 6 numbers/ });
});
