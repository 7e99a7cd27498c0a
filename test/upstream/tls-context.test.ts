/**
 * The process's one upstream secure context (src/upstream/tls-context.ts): shared by every
 * connection and by the proxy agents, and exactly as strict as tls.connect's own checks.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { proxyAgentFor } from '../../src/upstream/proxy.js';
import { upstreamSecureContext } from '../../src/upstream/tls-context.js';
import { upstreamTrust } from '../../src/upstream/trust.js';

interface Leaf { key: string; cert: string }

function makeCa(dir: string, name: string): { file: string; leaf: (n: string, san: string) => Leaf } {
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`);
  return {
    file: join(dir, `${name}.pem`),
    leaf(n, san) {
      writeFileSync(join(dir, `${n}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\n`);
      openssl('req', ...ec, '-keyout', `${n}.key`, '-out', `${n}.csr`, '-subj', `/CN=${n}`);
      openssl('x509', '-req', '-in', `${n}.csr`, '-CA', `${name}.pem`, '-CAkey', `${name}.key`, '-CAcreateserial', '-out', `${n}.pem`, '-days', '2', '-extfile', `${n}.ext`);
      return { key: readFileSync(join(dir, `${n}.key`), 'utf8'), cert: readFileSync(join(dir, `${n}.pem`), 'utf8') };
    },
  };
}

async function serve(leaf: Leaf): Promise<{ port: number; close(): Promise<void> }> {
  const server = tls.createServer(leaf, (s) => s.end('hi'));
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

/** Connects with the shared context the way the connector does; resolves to the error code, or 'ok'. */
function connect(port: number, servername: string | undefined, secureContext: tls.SecureContext): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, secureContext });
    socket.once('secureConnect', () => {
      socket.destroy();
      resolve('ok');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('upstream TLS secure context', () => {
  let dir: string;
  let ca: ReturnType<typeof makeCa>;
  let stranger: ReturnType<typeof makeCa>;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ofgw-tlsctx-'));
    ca = makeCa(dir, 'ca');
    stranger = makeCa(dir, 'stranger');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is one object per trust list, and one for Node\'s roots', () => {
    const trust = upstreamTrust(ca.file);
    assert.ok(trust);
    assert.equal(upstreamSecureContext(trust), upstreamSecureContext(trust));
    assert.equal(upstreamSecureContext(undefined), upstreamSecureContext(undefined));
    assert.notEqual(upstreamSecureContext(trust), upstreamSecureContext(undefined));
  });

  it('accepts the extra CA, refuses an unknown CA and a wrong host name', async () => {
    const trust = upstreamTrust(ca.file);
    const context = upstreamSecureContext(trust);
    const good = await serve(ca.leaf('localhost', 'DNS:localhost,IP:127.0.0.1'));
    const otherHost = await serve(ca.leaf('elsewhere', 'DNS:elsewhere.invalid'));
    const unknown = await serve(stranger.leaf('strangehost', 'DNS:localhost,IP:127.0.0.1'));
    try {
      assert.equal(await connect(good.port, 'localhost', context), 'ok');
      assert.equal(await connect(good.port, undefined, context), 'ok');
      assert.equal(await connect(otherHost.port, 'localhost', context), 'ERR_TLS_CERT_ALTNAME_INVALID');
      // The same code tls.connect gives with `ca` passed per connection, as before.
      const perSocket = await new Promise<string>((resolve) => {
        const s = tls.connect({ host: '127.0.0.1', port: unknown.port, servername: 'localhost', ca: trust });
        s.once('secureConnect', () => resolve('ok'));
        s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? ''));
      });
      assert.notEqual(perSocket, 'ok');
      assert.equal(await connect(unknown.port, 'localhost', context), perSocket);
      // Node's roots alone do not trust the private CA.
      assert.notEqual(await connect(good.port, 'localhost', upstreamSecureContext(undefined)), 'ok');
    } finally {
      await Promise.all([good.close(), otherHost.close(), unknown.close()]);
    }
  });

  it('goes to the https:// proxy agent as its secureContext', () => {
    const context = upstreamSecureContext(upstreamTrust(ca.file));
    const agent = proxyAgentFor('https://127.0.0.1:3128', { secureContext: context, timeoutMs: 1000 }) as unknown as {
      connectOpts: { secureContext?: tls.SecureContext; ca?: unknown };
    };
    assert.equal(agent.connectOpts.secureContext, context);
    assert.equal(agent.connectOpts.ca, undefined);
  });
});
