/**
 * TLS session resumption towards the upstream (connectResumingSession in
 * src/upstream/tls-context.ts), with real sockets on 127.0.0.1: a second connection to the same
 * host, port and name under the same trust list resumes; another trust list or SNI name does not.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { connectResumingSession, upstreamSecureContext } from '../../src/upstream/tls-context.js';
import { upstreamTrust } from '../../src/upstream/trust.js';

interface Leaf { key: string; cert: string }

function makeCa(dir: string): { file: string; leaf: Leaf } {
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=ca');
  writeFileSync(join(dir, 'leaf.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
  openssl('req', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=leaf');
  openssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '2', '-extfile', 'leaf.ext');
  return { file: join(dir, 'ca.pem'), leaf: { key: readFileSync(join(dir, 'leaf.key'), 'utf8'), cert: readFileSync(join(dir, 'leaf.pem'), 'utf8') } };
}

/** `resumed`: how many handshakes the server saw complete as resumed sessions. */
async function serve(leaf: Leaf, maxVersion: tls.SecureVersion = 'TLSv1.3'): Promise<{ port: number; resumed: () => number; close(): Promise<void> }> {
  let resumed = 0;
  const server = tls.createServer({ ...leaf, maxVersion }, (s) => {
    if (s.isSessionReused()) resumed++;
    s.on('error', () => {});
    s.end('hi');
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, resumed: () => resumed, close: () => new Promise((r) => server.close(() => r())) };
}

/** One connection read to its end; resolves whether it resumed a session, or the error code. */
function connect(port: number, servername: string | undefined, secureContext: tls.SecureContext): Promise<boolean | string> {
  return new Promise((resolve) => {
    const socket = connectResumingSession({ host: '127.0.0.1', port, servername, secureContext });
    let reused = false;
    socket.once('secureConnect', () => (reused = socket.isSessionReused()));
    socket.on('data', () => {});
    // Closed by the server after 'hi': any session ticket (sent after the handshake) has arrived.
    socket.once('close', () => resolve(reused));
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('upstream TLS session resumption', () => {
  let dir: string;
  let ca: ReturnType<typeof makeCa>;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ofgw-tlssess-'));
    ca = makeCa(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`resumes a second connection to the same host and name under the same trust list (${version})`, async () => {
      const server = await serve(ca.leaf, version);
      const context = upstreamSecureContext(upstreamTrust(ca.file));
      try {
        assert.equal(await connect(server.port, 'localhost', context), false);
        assert.equal(await connect(server.port, 'localhost', context), true);
        assert.equal(await connect(server.port, 'localhost', context), true);
        assert.equal(server.resumed(), 2);
      } finally {
        await server.close();
      }
    });
  }

  it('does not offer the session under another trust list or another SNI name', async () => {
    const server = await serve(ca.leaf);
    // Each upstreamTrust call returns a new list, so a new secure context: another trust list.
    const first = upstreamSecureContext(upstreamTrust(ca.file));
    const second = upstreamSecureContext(upstreamTrust(ca.file));
    assert.notEqual(first, second);
    try {
      assert.equal(await connect(server.port, 'localhost', first), false);
      assert.equal(await connect(server.port, 'localhost', first), true);
      assert.equal(await connect(server.port, 'localhost', second), false);
      assert.equal(await connect(server.port, undefined, first), false);
      assert.equal(await connect(server.port, undefined, first), true);
    } finally {
      await server.close();
    }
  });

  it('keeps nothing from a connection that fails verification', async () => {
    const server = await serve(ca.leaf, 'TLSv1.2');
    const context = upstreamSecureContext(upstreamTrust(ca.file));
    try {
      // The certificate has no such name: refused after a completed TLS 1.2 handshake; nothing
      // is kept, so the retry is a full handshake again.
      assert.equal(await connect(server.port, 'elsewhere.invalid', context), 'ERR_TLS_CERT_ALTNAME_INVALID');
      assert.equal(await connect(server.port, 'elsewhere.invalid', context), 'ERR_TLS_CERT_ALTNAME_INVALID');
      // Node's roots alone (another context) refuse the private CA, twice.
      assert.notEqual(await connect(server.port, 'localhost', upstreamSecureContext(undefined)), true);
      assert.notEqual(await connect(server.port, 'localhost', upstreamSecureContext(undefined)), true);
      assert.equal(server.resumed(), 0);
    } finally {
      await server.close();
    }
  });
});
