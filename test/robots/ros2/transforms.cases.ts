// The pure geometry behind a ROS 2 robot's place on the site: the planar site ↔ map transform
// (round trips, composition, measuring it from one placement) and the TF tree (3D transforms
// composed along map → odom → base_footprint → base_link, looked up either way), as properties
// over random transforms (fast-check) and worked examples.
import t from 'tap';
import fc from 'fast-check';
import type { Pose } from '../../../planners/fleet.ts';
import {
  applyTransform,
  composeTransforms,
  invertTransform,
  mapToSite,
  normalizeAngle,
  quaternionToYaw,
  siteToMap,
  transformFromPair,
  yawToQuaternion,
  type MapTransform,
} from '../../../robots/ros2/poses.ts';
import { compose, invert, planarPose, readTransforms, rotate, TfTree, type Transform } from '../../../robots/ros2/tf.ts';

const EPS = 1e-6;
const angleDiff = (a: number, b: number) => Math.abs(normalizeAngle(a - b));
const distance = (a: Pose, b: Pose) => Math.hypot(a.x - b.x, a.y - b.y);
const near = (a: Pose, b: Pose) => Math.abs(a.x - b.x) < EPS && Math.abs(a.y - b.y) < EPS && angleDiff(a.theta, b.theta) < EPS;

const metres = fc.double({ min: -500, max: 500, noNaN: true });
const angle = fc.double({ min: -10, max: 10, noNaN: true });
const pose = fc.record({ x: metres, y: metres, theta: angle });
const planar: fc.Arbitrary<MapTransform> = pose;

// A unit quaternion of any rotation in 3D, from a random non-zero 4-vector.
const rotation = fc
  .tuple(fc.double({ min: -1, max: 1, noNaN: true }), fc.double({ min: -1, max: 1, noNaN: true }), fc.double({ min: -1, max: 1, noNaN: true }), fc.double({ min: -1, max: 1, noNaN: true }))
  .filter(([x, y, z, w]) => Math.hypot(x, y, z, w) > 0.1)
  .map(([x, y, z, w]) => {
    const n = Math.hypot(x, y, z, w);
    return { x: x / n, y: y / n, z: z / n, w: w / n };
  });
const transform3d: fc.Arbitrary<Transform> = fc.record({ translation: fc.record({ x: metres, y: metres, z: metres }), rotation });
const planar3d = (p: Pose): Transform => ({ translation: { x: p.x, y: p.y, z: 0 }, rotation: yawToQuaternion(p.theta) });

/** Where a 3D transform takes a point. */
const apply3d = (tf: Transform, v: { x: number; y: number; z: number }) => {
  const r = rotate(tf.rotation, v);
  return { x: r.x + tf.translation.x, y: r.y + tf.translation.y, z: r.z + tf.translation.z };
};
const near3 = (a: { x: number; y: number; z: number }, b: { x: number; y: number; z: number }) => Math.hypot(a.x - b.x, a.y - b.y, a.z - b.z) < 1e-6;

t.test('site ↔ map: a worked example', async (t) => {
  // The site's origin lies at (10, -2) in the robot's map, its x axis along the map's y axis.
  const m: MapTransform = { x: 10, y: -2, theta: Math.PI / 2 };
  const inMap = siteToMap(m, { x: 4, y: 1.5, theta: 0 });
  t.ok(near(inMap, { x: 8.5, y: 2, theta: Math.PI / 2 }), `site (4, 1.5) is map (8.5, 2), facing the map's y: ${JSON.stringify(inMap)}`);
  t.ok(near(mapToSite(m, inMap), { x: 4, y: 1.5, theta: 0 }), 'and back');
  t.same(siteToMap({ x: 0, y: 0, theta: 0 }, { x: 3, y: 4, theta: 1 }), { x: 3, y: 4, theta: 1 }, 'the identity changes nothing');
});

t.test('site ↔ map: properties', async (t) => {
  fc.assert(
    fc.property(planar, pose, (m, p) => near(mapToSite(m, siteToMap(m, p)), p) && near(siteToMap(m, mapToSite(m, p)), p)),
    { numRuns: 500 },
  );
  t.pass('site → map → site and map → site → map are round trips');
  fc.assert(
    fc.property(planar, planar, pose, (a, b, p) => near(applyTransform(composeTransforms(a, b), p), applyTransform(a, applyTransform(b, p)))),
    { numRuns: 500 },
  );
  t.pass('composing is applying one after the other');
  fc.assert(
    fc.property(planar, planar, planar, pose, (a, b, c, p) =>
      near(applyTransform(composeTransforms(composeTransforms(a, b), c), p), applyTransform(composeTransforms(a, composeTransforms(b, c)), p)),
    ),
    { numRuns: 300 },
  );
  t.pass('composition is associative');
  fc.assert(
    fc.property(planar, pose, (m, p) => near(applyTransform(composeTransforms(m, invertTransform(m)), p), p)),
    { numRuns: 500 },
  );
  t.pass('a transform after its inverse is the identity');
  fc.assert(
    fc.property(planar, pose, pose, (m, a, b) => Math.abs(distance(a, b) - distance(siteToMap(m, a), siteToMap(m, b))) < EPS),
    { numRuns: 300 },
  );
  t.pass('rigid: distances are kept');
  fc.assert(
    fc.property(planar, pose, (m, s) => {
      const measured = transformFromPair(s, siteToMap(m, s));
      return near(measured, m);
    }),
    { numRuns: 500 },
  );
  t.pass('measured from one placement (its site pose and the map pose it reports), the transform is found again');
});

t.test('3D transforms: composition, inverse, and agreement with the planar ones', async (t) => {
  fc.assert(
    fc.property(transform3d, transform3d, fc.record({ x: metres, y: metres, z: metres }), (a, b, v) => near3(apply3d(compose(a, b), v), apply3d(a, apply3d(b, v)))),
    { numRuns: 500 },
  );
  t.pass('compose(a, b) applies b, then a');
  fc.assert(
    fc.property(transform3d, fc.record({ x: metres, y: metres, z: metres }), (a, v) => near3(apply3d(invert(a), apply3d(a, v)), v) && near3(apply3d(a, apply3d(invert(a), v)), v)),
    { numRuns: 500 },
  );
  t.pass('invert undoes it, both ways');
  fc.assert(
    fc.property(planar, planar, (a, b) => near(planarPose(compose(planar3d(a), planar3d(b))), applyTransform(a, b))),
    { numRuns: 500 },
  );
  t.pass('transforms about z compose as the planar ones do');
  t.ok(Math.abs(quaternionToYaw(yawToQuaternion(3)) - 3) < 1e-12);
});

const stamped = (parent: string, child: string, x: number, y: number, theta: number, z = 0) => ({
  header: { stamp: { sec: 1, nanosec: 0 }, frame_id: parent },
  child_frame_id: child,
  transform: { translation: { x, y, z }, rotation: yawToQuaternion(theta) },
});

t.test('TF: map → odom → base_footprint → base_link, composed; looked up from any two frames', async (t) => {
  const tree = new TfTree();
  t.same(tree.update({ transforms: [stamped('base_footprint', 'base_link', 0, 0, 0, 0.1), stamped('base_link', 'laser', 0.2, 0, Math.PI)] }), ['base_link', 'laser']);
  t.equal(tree.lookup('map', 'base_link'), undefined, 'not connected to the map yet');
  tree.update({ transforms: [stamped('odom', 'base_footprint', 2, 0, Math.PI / 2)] });
  tree.update({ transforms: [stamped('/map', '/odom', 1, 1, Math.PI / 2)] });
  // odom sits at (1, 1) in the map, turned a quarter; the robot 2 m along odom's x: the map's y.
  const p = planarPose(tree.lookup('map', 'base_link')!);
  t.ok(near(p, { x: 1, y: 3, theta: Math.PI }), `the base in the map: ${JSON.stringify(p)}`);
  t.ok(Math.abs(tree.lookup('map', 'base_link')!.translation.z - 0.1) < 1e-12, 'with its height');
  t.ok(near(planarPose(tree.lookup('base_link', 'map')!), planarPose(invert(tree.lookup('map', 'base_link')!))), 'the other way: the inverse');
  t.ok(near(planarPose(tree.lookup('odom', 'laser')!), { x: 2, y: 0.2, theta: -Math.PI / 2 }), 'between two frames below the root');
  t.ok(near(planarPose(tree.lookup('map', 'map')!), { x: 0, y: 0, theta: 0 }), 'a frame in itself');

  t.ok(tree.onPath('map', 'base_link', 'odom'));
  t.ok(tree.onPath('map', 'base_link', 'base_footprint'));
  t.notOk(tree.onPath('map', 'base_link', 'laser'), "a sensor's frame does not move the base");

  // The localizer corrects the drift: only map → odom changes.
  tree.update({ transforms: [stamped('map', 'odom', 1.5, 1, Math.PI / 2)] });
  t.ok(near(planarPose(tree.lookup('map', 'base_link')!), { x: 1.5, y: 3, theta: Math.PI }), 'the latest map → odom applies');
});

t.test('TF: composing a random chain is composing its links in order', async (t) => {
  fc.assert(
    fc.property(fc.array(transform3d, { minLength: 1, maxLength: 6 }), (links) => {
      const tree = new TfTree();
      const names = ['map', ...links.map((_, i) => `f${i}`)];
      // Sent leaf first, in one message each: the order they come in does not matter.
      for (let i = links.length - 1; i >= 0; i--) {
        tree.update({ transforms: [{ header: { frame_id: names[i] }, child_frame_id: names[i + 1], transform: { translation: links[i]!.translation, rotation: links[i]!.rotation } }] });
      }
      const expected = links.reduce((acc, l) => compose(acc, l));
      const got = tree.lookup('map', names[names.length - 1]!)!;
      const v = { x: 1, y: 2, z: 3 };
      return near3(apply3d(got, v), apply3d(expected, v));
    }),
    { numRuns: 300 },
  );
  t.pass('lookup(map, leaf) = link₀ ∘ link₁ ∘ … ∘ linkₙ');
});

t.test('TF: malformed transforms are left out; a loop does not hang a lookup', async (t) => {
  t.same(readTransforms(null), []);
  t.same(readTransforms({ transforms: 'x' }), []);
  const read = readTransforms({
    transforms: [
      stamped('map', 'odom', NaN, 0, 0),
      { header: { frame_id: 'map' }, child_frame_id: '', transform: stamped('a', 'b', 0, 0, 0).transform },
      { ...stamped('map', 'odom', 0, 0, 0), transform: { translation: { x: 0, y: 0, z: 0 }, rotation: { x: 0, y: 0, z: 0, w: 0 } } },
      { ...stamped('map', 'odom', 1, 0, 0), transform: { translation: { x: 1, y: 0, z: 0 }, rotation: { x: 0, y: 0, z: 0, w: 2 } } },
    ],
  });
  t.equal(read.length, 1, 'only the well-formed one');
  t.same(read[0]!.transform.rotation, { x: 0, y: 0, z: 0, w: 1 }, 'its rotation normalised');
  const tree = new TfTree();
  tree.update({ transforms: [stamped('a', 'b', 1, 0, 0), stamped('b', 'a', 1, 0, 0), stamped('c', 'c', 0, 0, 0)] });
  t.equal(tree.lookup('map', 'a'), undefined, 'a loop away from the map: not connected');
});
