// HTTPS: with PHYGATE_TLS_CERT and PHYGATE_TLS_KEY the gateway serves TLS only; plain HTTP on
// its port gets no answer. The certificate is made here, self-signed, with openssl.
import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import t from 'tap';
import { buildApp } from '../../gateway/app.ts';
import { ConfigError, readConfig } from '../../gateway/config.ts';
import { httpsFiles, plainHttpWarning } from '../../gateway/main.ts';
import { appFor, tempDirFor } from './harness.ts';

/** A self-signed certificate for 127.0.0.1 and its key, as PEM files in a temp folder. */
function selfSigned(t: Parameters<typeof tempDirFor>[0]): { cert: string; key: string } {
  const dir = tempDirFor(t);
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=phygate-test', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

function get(url: string, opts: { ca?: Buffer; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(u, { headers: opts.headers ?? {}, ...(opts.ca ? { ca: opts.ca } : {}) }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('with a certificate and key the API is served over HTTPS, and plain HTTP on that port gets no answer', async (t) => {
  const files = selfSigned(t);
  const https = httpsFiles({ PHYGATE_TLS_CERT: files.cert, PHYGATE_TLS_KEY: files.key })!;
  const h = await appFor(t);
  const app = await buildApp({ config: { ...readConfig({}), PHYGATE_LOG_LEVEL: 'silent' }, site: h.site, store: h.store, fleet: h.fleet, https });
  t.teardown(() => app.close());
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  t.match(url, /^https:\/\/127\.0\.0\.1:\d+$/, 'the address says https');

  const whoami = await get(`${url}/v1/whoami`, { ca: https.cert, headers: h.auth('admin') });
  t.equal(whoami.status, 200);
  t.same(JSON.parse(whoami.body), { name: 'admin-test', role: 'admin' });
  await t.rejects(get(`${url}/healthz`), /self[- ]signed|certificate/i, 'a client that does not trust the certificate refuses it');

  const plain = url.replace('https:', 'http:');
  await t.rejects(get(`${plain}/v1/whoami`, { headers: h.auth('admin') }), 'plain HTTP gets no HTTP answer (the token is never taken over plain HTTP)');
});

t.test('PHYGATE_TLS_CERT and PHYGATE_TLS_KEY: both or neither; unreadable files fail at start', async (t) => {
  t.throws(() => readConfig({ PHYGATE_TLS_CERT: '/x/cert.pem' }), ConfigError);
  t.throws(() => readConfig({ PHYGATE_TLS_KEY: '/x/key.pem' }), /set both \(HTTPS\) or neither/);
  const both = readConfig({ PHYGATE_TLS_CERT: '/x/cert.pem', PHYGATE_TLS_KEY: '/x/key.pem' });
  t.throws(() => httpsFiles(both), /PHYGATE_TLS_CERT: cannot read '\/x\/cert.pem'/);
  t.equal(httpsFiles(readConfig({})), undefined, 'neither: plain HTTP');
});

t.test('plain HTTP beyond loopback is warned of at start', async (t) => {
  const at = (host: string, cert?: string) => plainHttpWarning({ PHYGATE_HOST: host, ...(cert ? { PHYGATE_TLS_CERT: cert } : {}) });
  for (const host of ['127.0.0.1', '127.0.1.1', 'localhost', '::1']) t.equal(at(host), undefined, host);
  t.match(at('0.0.0.0'), /plain HTTP on 0\.0\.0\.0.*PHYGATE_TLS_CERT/);
  t.match(at('192.168.1.20'), /plain HTTP/);
  t.equal(at('0.0.0.0', '/etc/phygate/cert.pem'), undefined, 'with HTTPS, nothing to warn of');
});
