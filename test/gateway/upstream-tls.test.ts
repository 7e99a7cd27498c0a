/**
 * TLS upstream (issue 3, item 2): wss:// with certificate and hostname verification on by
 * default; an operator-supplied CA makes a private upstream trusted. The simulator serves
 * wss:// with certificates from a throwaway CA made here with openssl.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import tls from 'node:tls';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { Gateway } from '../../src/gateway/server.js';
import { createLogger } from '../../src/log.js';
import { startStack, TestClient, type Stack } from '../helpers.js';

interface Pki {
  dir: string;
  caFile: string;
  /** Certificate for localhost / 127.0.0.1, signed by the CA. */
  good: { key: string; cert: string };
  /** Signed by the CA, but for another host name. */
  otherHost: { key: string; cert: string };
}

function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'ofgw-pki-'));
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=ofgw test CA');
  const leaf = (name: string, san: string): { key: string; cert: string } => {
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\n`);
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
    return { key: readFileSync(join(dir, `${name}.key`), 'utf8'), cert: readFileSync(join(dir, `${name}.pem`), 'utf8') };
  };
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    good: leaf('localhost', 'DNS:localhost,IP:127.0.0.1'),
    otherHost: leaf('elsewhere', 'DNS:elsewhere.invalid'),
  };
}

describe('TLS upstream', () => {
  let pki: Pki;
  before(() => {
    pki = makePki();
  });
  after(() => rmSync(pki.dir, { recursive: true, force: true }));

  async function relay(stack: Stack): Promise<{ first: Record<string, unknown>; code?: number }> {
    const client = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': stack.apiKey } });
    const first = (await client.next()).json();
    if (first.connected === true) {
      client.socket.send('{"act":"get_onlines","ids":[]}');
      assert.deepEqual((await client.next()).json(), { online: [] });
      client.socket.close();
      await client.closed;
      return { first };
    }
    return { first, code: (await client.closed).code };
  }

  it('relays through wss:// when the operator trusts the upstream\'s CA', async () => {
    const stack = await startStack({ simulator: { tls: pki.good }, config: { upstreamCaFile: pki.caFile } });
    try {
      assert.match(stack.sim.wsUrl(), /^wss:\/\//);
      const { first } = await relay(stack);
      assert.equal(first.connected, true);
    } finally {
      await stack.close();
    }
  });

  it('every upstream TLS socket shares one secure context (with upstreamCaFile and without), and later ones resume the session', async () => {
    const contexts: unknown[] = [];
    const resumed: (boolean | undefined)[] = [];
    const connect = tls.connect;
    (tls as { connect: unknown }).connect = (...args: Parameters<typeof tls.connect>) => {
      contexts.push((args[0] as tls.ConnectionOptions).secureContext);
      const socket = connect(...args);
      const index = resumed.push(undefined) - 1;
      socket.once('secureConnect', () => (resumed[index] = socket.isSessionReused()));
      return socket;
    };
    try {
      const stack = await startStack({ simulator: { tls: pki.good }, config: { upstreamCaFile: pki.caFile } });
      try {
        for (let i = 0; i < 3; i++) assert.equal((await relay(stack)).first.connected, true);
      } finally {
        await stack.close();
      }
      assert.equal(contexts.length, 3);
      assert.deepEqual(resumed, [false, true, true], 'the 2nd and 3rd upstream sockets resume the 1st one\'s TLS session');
      assert.equal(typeof contexts[0], 'object', 'no secure context passed');
      assert.ok(contexts[0] !== undefined && contexts.every((c) => c === contexts[0]), 'a context per socket');
      // Without a CA file: Node's roots, still one context (the untrusted simulator is refused).
      const plain = await startStack({ simulator: { tls: pki.good } });
      try {
        for (let i = 0; i < 2; i++) assert.notEqual((await relay(plain)).first.connected, true);
      } finally {
        await plain.close();
      }
      assert.equal(contexts.length, 5);
      assert.ok(contexts[3] !== undefined && contexts[3] === contexts[4] && contexts[3] !== contexts[0]);
    } finally {
      (tls as { connect: unknown }).connect = connect;
    }
  });

  it('refuses an upstream certificate from an untrusted CA: WS_CONNECT_ERROR, stage tls', async () => {
    const stack = await startStack({ simulator: { tls: pki.good } });
    try {
      const { first, code } = await relay(stack);
      assert.equal(first.code, 'WS_CONNECT_ERROR');
      assert.equal(first.stage, 'tls');
      assert.match(first.error as string, /TLS verification of 127\.0\.0\.1:\d+ failed \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/);
      assert.equal(code, 4502);
    } finally {
      await stack.close();
    }
  });

  it('refuses a trusted certificate issued for another host name', async () => {
    const stack = await startStack({ simulator: { tls: pki.otherHost }, config: { upstreamCaFile: pki.caFile } });
    try {
      const { first } = await relay(stack);
      assert.equal(first.code, 'WS_CONNECT_ERROR');
      assert.match(first.error as string, /ERR_TLS_CERT_ALTNAME_INVALID/);
    } finally {
      await stack.close();
    }
  });

  it('stops at start-up on an unreadable or non-PEM CA file, naming the setting', async () => {
    const junk = join(pki.dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate');
    for (const file of [join(pki.dir, 'missing.pem'), junk]) {
      const config = loadConfig({ port: 0, db: ':memory:', upstreamCaFile: file });
      assert.throws(
        () => new Gateway({ config, store: undefined as never, logger: createLogger('silent') }),
        /invalid upstreamCaFile/,
      );
    }
  });
});
