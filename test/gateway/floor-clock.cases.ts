// The rehearsal's floor clock (gateway/rehearsal/floor-clock.ts): simulated time counts while
// something is at work, and the idle moments between (messages in flight) do not.
import t from 'tap';
import { FloorClock } from '../../gateway/rehearsal/floor-clock.ts';

t.test('busy time counts at the fleet speed; idle gaps between do not', async (t) => {
  const clock = new FloorClock(20, 1_000);
  // 0–1000 ms busy (an AMR drives), 1000–1100 idle (its state goes back, the next order out),
  // 1100–1600 busy (the machine runs), then idle for good.
  const looks: [number, boolean][] = [
    [1_000, true],
    [1_500, true],
    [2_000, true],
    [2_050, false],
    [2_100, false],
    [2_100, true],
    [2_600, true],
    [2_650, false],
    [5_000, false],
  ];
  for (const [ms, busy] of looks) clock.sample(ms, busy);
  // 1000 + 500 ms busy, plus the 50 ms up to the first idle look after each: 1.6 s real = 32 s
  // at 20×. The 50 ms of idle looks at 2050–2100 and everything after 2650 do not count.
  t.equal(clock.seconds, 32, 'busy time and one look interval after each busy stretch, not the idle time');
});

t.test('a floor at work the whole time counts all of it; an idle one none', async (t) => {
  const busy = new FloorClock(10, 0);
  for (let ms = 0; ms <= 3_000; ms += 20) busy.sample(ms, true);
  t.equal(busy.seconds, 30, '3 s at 10×');
  const idle = new FloorClock(10, 0);
  for (let ms = 0; ms <= 3_000; ms += 20) idle.sample(ms, false);
  t.equal(idle.seconds, 0);
});

t.test('a look back in time (a clock that stepped) adds nothing and keeps the later time', async (t) => {
  const clock = new FloorClock(1, 0);
  clock.sample(1_000, true);
  clock.sample(900, true);
  clock.sample(2_000, true);
  t.equal(clock.seconds, 2, 'only forward time counts');
});
