// Request budgets: per token by the token's id (however the header spells it), per client
// address for requests without a valid token, on the app's clock; STOP is exempt.
import t from 'tap';
import { RateLimiter } from '../../gateway/rate-limit.ts';
import { appFor, FIXED_NOW } from './harness.ts';

/** A clock the test moves. */
function movableClock() {
  let at = FIXED_NOW().getTime();
  return { now: () => new Date(at), advance: (ms: number) => (at += ms) };
}

t.test('every spelling of the Authorization header of one token shares one bucket', async (t) => {
  const h = await appFor(t, { config: { PHYGATE_RATE_LIMIT: 4 } });
  const token = h.tokens.viewer;
  // Each spelling used to be a bucket of its own: the key was the raw header.
  const spellings = [`Bearer ${token}`, `bearer ${token}`, `BEARER ${token}`, `Bearer  ${token}`, `Bearer\t${token}`, `bEaReR ${token} `];
  const statuses: number[] = [];
  for (const authorization of spellings) {
    statuses.push((await h.app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization } })).statusCode);
  }
  t.same(statuses, [200, 200, 200, 200, 429, 429], 'four requests in the minute, whatever the spelling');
  const refused = await h.app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization: spellings[4]! } });
  t.match(refused.json(), { code: 'RATE_LIMITED', message: /viewer-test/ });
  t.ok(Number(refused.headers['retry-after']) > 0, 'with Retry-After');
  t.equal((await h.app.inject({ method: 'GET', url: '/v1/whoami', headers: h.auth('operator') })).statusCode, 200, "another token has its own budget");
});

t.test('requests without a valid token are limited per address: 401s and unknown routes alike', async (t) => {
  const clock = movableClock();
  const h = await appFor(t, { now: clock.now, config: { PHYGATE_RATE_LIMIT_ANONYMOUS: 5 } });
  const anonymous = [
    () => h.app.inject({ method: 'POST', url: '/v1/missions', payload: {} }),
    () => h.app.inject({ method: 'POST', url: '/v1/nowhere', payload: {} }),
    () => h.app.inject({ method: 'GET', url: '/v1/missions', headers: { authorization: 'Bearer pgt_not-a-token' } }),
    () => h.app.inject({ method: 'POST', url: '/v1/plans/check', headers: { authorization: 'Basic eDp5' }, payload: {} }),
    () => h.app.inject({ method: 'DELETE', url: '/v1/anything/else' }),
  ];
  const statuses: number[] = [];
  for (const send of anonymous) statuses.push((await send()).statusCode);
  t.same(statuses, [401, 404, 401, 401, 404], 'answered as before while within the budget');
  for (const send of anonymous) {
    const res = await send();
    t.equal(res.statusCode, 429, 'then refused, however the request looks');
    t.equal(res.json().code, 'RATE_LIMITED');
    t.ok(Number(res.headers['retry-after']) > 0);
  }
  const elsewhere = await h.app.inject({ method: 'POST', url: '/v1/nowhere', remoteAddress: '10.0.0.7', payload: {} });
  t.equal(elsewhere.statusCode, 404, 'another address has its own budget');
  t.equal((await h.app.inject({ method: 'GET', url: '/v1/missions', headers: h.auth('viewer') })).statusCode, 200, 'a valid token is not held back by anonymous callers on its address');
  t.equal((await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'public pages are not limited');
  t.equal((await h.app.inject({ method: 'POST', url: '/v1/stop', headers: h.auth('viewer'), payload: { reason: 'x' } })).statusCode, 200, 'STOP with a token goes through');

  clock.advance(60_000);
  t.equal((await anonymous[1]!()).statusCode, 404, 'a minute later the address has a new budget');
});

t.test('the limiter: a window per key, refused with the time left, new keys share one bucket when full', async (t) => {
  let now = 0;
  const limiter = new RateLimiter(2, 60_000, () => now, 3);
  t.same([limiter.take('a'), limiter.take('a'), limiter.take('a')], [{ ok: true }, { ok: true }, { ok: false, retryAfterS: 60 }]);
  now = 59_001;
  t.same(limiter.take('a'), { ok: false, retryAfterS: 1 }, 'never Retry-After 0');
  now = 60_000;
  t.same(limiter.take('a'), { ok: true }, 'the next window');

  t.same([limiter.take('b'), limiter.take('c')], [{ ok: true }, { ok: true }]);
  t.equal(limiter.size, 3);
  t.same([limiter.take('d'), limiter.take('e'), limiter.take('f')], [{ ok: true }, { ok: true }, { ok: false, retryAfterS: 60 }], 'd, e and f share the overflow bucket');
  t.equal(limiter.size, 4, 'the map grew by the overflow bucket only');
  now = 120_000;
  t.same(limiter.take('g'), { ok: true }, 'once windows expired, they make room');
  t.ok(limiter.size <= 4);
});
