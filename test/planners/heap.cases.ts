// The binary min-heap: items come out in the order `before` gives, ties as `before` breaks them.
import t from 'tap';
import { MinHeap } from '../../planners/heap.ts';

t.test('items come out smallest first, ties by the second key, whatever order they went in', async (t) => {
  const items: [number, string][] = [];
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 500; i++) items.push([Math.floor(rand() * 40), `n${Math.floor(rand() * 1000)}`]);
  const heap = new MinHeap<[number, string]>((a, b) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]));
  for (const x of items) heap.push(x);
  t.equal(heap.size, 500);
  const out: [number, string][] = [];
  for (let x = heap.pop(); x; x = heap.pop()) out.push(x);
  const sorted = [...items].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  t.same(out, sorted);
  t.equal(heap.pop(), undefined, 'empty at the end');
  t.equal(heap.size, 0);
});

t.test('pushes between pops keep the order', async (t) => {
  const heap = new MinHeap<number>((a, b) => a < b);
  heap.push(5);
  heap.push(1);
  t.equal(heap.pop(), 1);
  heap.push(3);
  heap.push(0);
  t.same([heap.pop(), heap.pop(), heap.pop(), heap.pop()], [0, 3, 5, undefined]);
});
