// Signing in at the tablet (issue #18): by default the token is kept for the tab only; "Remember
// on this device" keeps it across a new tab until signed out; a sign-in link from `phygate token
// create --link` signs in once opened, takes the token off the address and remembers it; with
// `--qr` it also prints that link as a QR code.
import t from 'tap';
import { encode } from 'uqr';
import { runCli } from '../../gateway/cli/commands.ts';
import { browserFor, pageFor, tabletGateway } from './browser.ts';

t.test('sign in: for this tab, remembered on this device, or by a sign-in link', async (t) => {
  const { url, tokens, dataDir } = await tabletGateway(t);
  const context = await browserFor(t);

  await t.test('without "remember", a new tab asks again', async (t) => {
    const page = await pageFor(t, context);
    await page.goto(`${url}/`);
    await page.getByLabel('Access token').fill(tokens.viewer);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#live-status', { hasText: 'Live' }).waitFor({ timeout: 10_000 });
    const other = await pageFor(t, context);
    await other.goto(`${url}/`);
    await other.getByLabel('Access token').waitFor();
    t.ok(await other.locator('#signin').isVisible(), 'a new tab shows the sign-in');
    await page.getByRole('button', { name: 'Sign out' }).click();
  });

  await t.test('"remember on this device": a new tab is signed in; signing out forgets it', async (t) => {
    const page = await pageFor(t, context);
    await page.goto(`${url}/`);
    await page.getByLabel('Access token').fill(tokens.operator);
    await page.getByLabel('Remember on this device').check();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#live-status', { hasText: 'Live' }).waitFor({ timeout: 10_000 });
    const other = await pageFor(t, context);
    await other.goto(`${url}/`);
    await other.locator('#live-status', { hasText: 'Live' }).waitFor({ timeout: 10_000 });
    t.equal(await other.locator('#who').textContent(), 'tablet-1 · operator', 'signed in without typing');
    await other.getByRole('button', { name: 'Sign out' }).click();
    const third = await pageFor(t, context);
    await third.goto(`${url}/`);
    await third.getByLabel('Access token').waitFor();
    t.ok(await third.locator('#signin').isVisible(), 'after signing out, the device no longer has it');
  });

  await t.test('a sign-in link from token create --link signs in, and the token leaves the address', async (t) => {
    const err: string[] = [];
    const out: string[] = [];
    const code = await runCli(['token', 'create', '--role', 'viewer', '--name', 'wall-2', '--link', `${url}/anything?x=1`, '--qr', '--data-dir', dataDir], (l) => out.push(l), (l) => err.push(l));
    t.equal(code, 0, err.join('\n'));
    const link = /sign-in link for a tablet .*: (\S+)$/m.exec(err.join('\n'))?.[1];
    t.equal(link, `${url}/#token=${encodeURIComponent(out[0]!)}`, 'the link is the gateway with the token in the fragment');
    const qr = err.find((l) => l.startsWith('the same link as a QR code'))?.split('\n').slice(1);
    t.ok(qr && qr.length > 10, 'with --qr, the link as a QR code');
    // Each character is two modules, one above the other; a block is light (false), a space dark.
    const halves: Record<string, [boolean, boolean]> = { '█': [false, false], '▀': [false, true], '▄': [true, false], ' ': [true, true] };
    const rows = qr!.flatMap((line) => [0, 1].map((half) => [...line].map((c) => halves[c]![half]!)));
    const expected = encode(link!, { border: 2 }).data;
    t.same(rows.slice(0, expected.length), expected, 'the QR code is the sign-in link, module for module (quiet zone of two modules)');
    const page = await pageFor(t, context);
    await page.goto(link!);
    await page.locator('#live-status', { hasText: 'Live' }).waitFor({ timeout: 10_000 });
    t.equal(await page.locator('#who').textContent(), 'wall-2 · viewer');
    t.equal(new URL(page.url()).hash, '', 'the token is off the address bar');
    const bad = await runCli(['token', 'create', '--role', 'viewer', '--name', 'x', '--link', 'tablet.local'], () => {}, (l) => err.push(l));
    t.equal(bad, 2, 'a link that is not an http(s) address is refused');
    const qrAlone = await runCli(['token', 'create', '--role', 'viewer', '--name', 'x', '--qr'], () => {}, (l) => err.push(l));
    t.equal(qrAlone, 2, '--qr without --link is refused');
    t.match(err.at(-1), /--qr .* --link/, 'saying it needs --link');
  });
});
