// A real crash: a writer process is killed with SIGKILL mid-work; the store must reopen intact.
// (Its own file so the coverage map can leave it out: the child's coverage does not merge.)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { openStore } from '../../gateway/store/index.ts';
import { spawnNode } from '../helpers/child-env.ts';
import { dataDir } from './fixtures/data-dir.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const crashWriter = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));

t.test('survives the process being killed', async (t) => {
  const dir = dataDir(t);
  const child = spawnNode(['--import', 'tsx', crashWriter, dir], { cwd: repoRoot });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));

  const id = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n');
      if (line.length > 1) {
        child.kill('SIGKILL');
        resolve(line[0]!);
      }
    });
    child.on('exit', () => reject(new Error(`child exited before printing an id: ${stderr}`)));
  });
  t.equal(await exited, 'SIGKILL', 'killed mid-work, not a clean exit');
  t.match(id, /^m_[0-9A-Z]{26}$/);
  t.ok(fs.existsSync(path.join(dir, 'phygate.db-wal')), 'the WAL was left behind, as after a real crash');

  const store = openStore(dir);
  t.teardown(() => store.close());
  t.equal(store.db.pragma('integrity_check', { simple: true }), 'ok');
  const mission = store.missions.get(id);
  t.equal(mission?.status, 'awaiting_approval');
  t.equal(mission?.steps.length, 2);
  for (const m of store.missions.list({ limit: 500 })) {
    const types = store.missions.events(m.id).map((e) => e.type);
    t.equal(types[0], 'mission.created', `${m.id} has its creation event`);
    t.equal(types.length, m.status === 'approved' ? 2 : 1, `${m.id}: events match its status`);
  }
});