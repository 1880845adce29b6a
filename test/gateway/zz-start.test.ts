import t from 'tap';
import { appFor } from './harness.ts';
t.test('one app', async (t) => {
  const h = await appFor(t);
  t.ok(h.app);
});
