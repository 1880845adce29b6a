// Where an idle robot goes when it stands in another robot's way for good: one pure function
// (planners/make-way.ts) that the check's simulation and the run time both ask.
import t from 'tap';
import { makeWayTarget } from '../../planners/make-way.ts';
import { indexSite, SiteSchema, type Site } from '../../planners/site.ts';
import { demo } from './fixtures/demo.ts';

const amr1 = demo.index.devicesOfKind('amr').find((a) => a.id === 'amr-1')!;
const withPolicy = (idle: Site['policies']['idle']) => indexSite({ ...demo.index.site, policies: { ...demo.index.site.policies, idle } });
const ask = (idle: Site['policies']['idle'], at: string, avoid: string[] = [], occupied: string[] = []) =>
  makeWayTarget({ site: withPolicy(idle), graph: demo.graph, robot: amr1, at, avoid: new Set(avoid), occupied: new Set(occupied) });
const parking = demo.index.site.stations.filter((s) => s.kind === 'parking').map((s) => s.id);

t.test('make-way: the parking station reached fastest, one that is free and off the way', async (t) => {
  t.ok(parking.length >= 2, 'the demo floor has parking stations');
  const fromShelf2 = ask('make-way', 'shelf-2');
  t.equal(fromShelf2?.to, 'park-2', 'park-2 is round the corner from shelf-2');
  t.same(fromShelf2?.route.nodes, ['shelf-2', 'sa-5', 'park-2']);
  t.equal(ask('make-way', 'shelf-2', ['park-2'])?.to, 'park-1', 'park-2 on the way of the waiting robot: the next one');
  t.equal(ask('make-way', 'shelf-2', [], ['park-2'])?.to, 'park-1', 'park-2 taken: the next one');
  const bare = ask('make-way', 'shelf-2', ['park-1', 'park-2']);
  t.ok(bare && !demo.index.station(bare.to), `no parking free: a bare node (${bare?.to})`);
  t.notOk(bare!.route.nodes.includes('park-1'));
  t.equal(ask('make-way', 'shelf-2', [], ['sa-5']), undefined, 'the only way out taken: it cannot move');
});

t.test('return-home goes home when it can, else as make-way; stay never moves', async (t) => {
  t.equal(ask('return-home', 'shelf-2')?.to, 'dock-a', "amr-1's home");
  t.equal(ask('return-home', 'shelf-2', ['dock-a'])?.to, 'park-2', 'home in the way: a parking station');
  t.equal(ask('stay', 'shelf-2'), undefined);
  t.equal(ask('return-home', 'dock-a')?.to, 'park-1', 'already home and in the way: the parking station nearest');
});

t.test('the site policy defaults to make-way', async (t) => {
  const { idle: _idle, ...rest } = demo.index.site.policies;
  t.equal(SiteSchema.parse({ ...demo.index.site, policies: rest }).policies.idle, 'make-way');
});
