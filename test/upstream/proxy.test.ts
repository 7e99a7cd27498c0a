/**
 * Per-model proxies against real proxy servers on 127.0.0.1: dante-server (SOCKS5, with and
 * without username/password) and tinyproxy (HTTP CONNECT, with and without BasicAuth, and
 * one that allows CONNECT to port 443 only); an https:// proxy is tinyproxy behind a TLS
 * terminator. Every relay goes client → gateway → proxy → simulator (wss://, as OnlyFans);
 * every failure ends as WS_CONNECT_ERROR naming the stage, within the connect timeout, with
 * no credential in the frame or the logs.
 *
 * Needs root and `apt-get install dante-server tinyproxy openssl`; skipped with the reason
 * otherwise, except under CI=true, where a missing prerequisite fails.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, startStack, TestClient, waitFor, type Stack } from '../helpers.js';
import {
  ensureSocksUser,
  missingPrerequisite,
  SOCKS_PASSWORD,
  SOCKS_USER,
  startDante,
  startTinyproxy,
  type ProxyServer,
} from './proxy-servers.js';
import { selfSignedCertificate, startTlsFront, type TlsFront } from './tls-front.js';

const CONNECT_TIMEOUT_MS = 800;
/** Slack over the connect timeout for a failure to reach the client. */
const SLACK_MS = 1500;
const TINY_USER = 'tpuser';
const TINY_PASSWORD = 'tp.s3cret-pw_7';
/** A name only a resolver that was asked can fail on: the .test TLD never resolves (RFC 2606). */
const PROXY_ONLY_HOST = 'onlyfans-sim.ofgw.test';
const SECRETS = [SOCKS_USER, SOCKS_PASSWORD, encodeURIComponent(SOCKS_PASSWORD), TINY_USER, TINY_PASSWORD];

const missing = missingPrerequisite();
const skip = missing && process.env.CI !== 'true' ? `skipped: ${missing}` : false;

describe('model proxies through real proxy servers', { skip }, () => {
  let dir: string;
  let stack: Stack;
  const servers: ProxyServer[] = [];
  let dante: ProxyServer;
  let danteAuth: ProxyServer;
  let tiny: ProxyServer;
  let tinyAuth: ProxyServer;
  let tinyPort443: ProxyServer;
  let httpsFront: TlsFront;
  let untrustedFront: TlsFront;

  before(async () => {
    if (missing) throw new Error(`CI=true, and the proxy tests cannot run: ${missing}`);
    ensureSocksUser();
    dir = mkdtempSync(join(tmpdir(), 'ofgw-proxy-'));
    const trusted = selfSignedCertificate(dir, 'proxy', 'IP:127.0.0.1');
    const untrusted = selfSignedCertificate(dir, 'stranger', 'IP:127.0.0.1');
    // wss:// like OnlyFans: TLS to the simulator runs inside the tunnel.
    const simulator = selfSignedCertificate(dir, 'simulator', 'IP:127.0.0.1,DNS:localhost');
    const started = async <T extends ProxyServer>(server: Promise<T>): Promise<T> => {
      const s = await server;
      servers.push(s);
      return s;
    };
    [dante, danteAuth, tiny, tinyAuth, tinyPort443] = await Promise.all([
      started(startDante(dir, { auth: false })),
      started(startDante(dir, { auth: true })),
      started(startTinyproxy(dir)),
      started(startTinyproxy(dir, { basicAuth: { user: TINY_USER, password: TINY_PASSWORD } })),
      started(startTinyproxy(dir, { connectPorts: [443] })),
    ]);
    httpsFront = await started(startTlsFront(tiny.port, trusted));
    untrustedFront = await started(startTlsFront(tiny.port, untrusted));
    // The operator's extra roots cover an https:// proxy as well as a wss:// upstream.
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, `${trusted.cert}${simulator.cert}`);
    stack = await startStack({
      simulator: { tls: simulator },
      config: { upstreamConnectTimeoutMs: CONNECT_TIMEOUT_MS, upstreamAuthTimeoutMs: 3000, upstreamCaFile: caFile },
    });
    assert.match(stack.sim.wsUrl(), /^wss:\/\//);
  });

  after(async () => {
    await stack?.close();
    await Promise.all(servers.map((s) => s.close()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const simPort = (): string => new URL(stack.sim.wsUrl()).port;
  const socksAuthUrl = (server: ProxyServer, scheme = 'socks5'): string =>
    `${scheme}://${SOCKS_USER}:${encodeURIComponent(SOCKS_PASSWORD)}@127.0.0.1:${server.port}`;
  const count = (text: string, pattern: RegExp): number => text.match(new RegExp(pattern.source, 'g'))?.length ?? 0;

  /** Opens a relay to a new model behind `proxyUrl`, exchanges get_onlines, and closes it. */
  async function relayThrough(proxyUrl: string, wsUrl = stack.sim.wsUrl(), idleMs = 0): Promise<void> {
    const model = await stack.store.createModel(stack.orgId, { wsUrl, wsToken: stack.wsToken, proxyUrl });
    const handshakes = stack.sim.handshakes.length;
    const client = new TestClient(stack.relayUrl(model.id), { headers: { 'X-API-Key': stack.apiKey } });
    try {
      await client.confirmed();
      assert.equal(stack.sim.handshakes.length, handshakes + 1, 'one upstream handshake');
      // Quiet on purpose: proves no negotiation timer survives into the open tunnel.
      if (idleMs > 0) await new Promise((r) => setTimeout(r, idleMs));
      client.socket.send('{"act":"get_onlines","ids":[]}');
      assert.deepEqual((await client.next()).json(), { online: [] });
    } finally {
      client.socket.close();
      await client.closed;
    }
  }

  /** A relay to a new model behind `proxyUrl` that must fail; checks what every failure shares. */
  async function failThrough(proxyUrl: string, wsUrl = stack.sim.wsUrl()): Promise<{ frame: Record<string, unknown>; elapsedMs: number }> {
    const model = await stack.store.createModel(stack.orgId, { wsUrl, wsToken: stack.wsToken, proxyUrl });
    const started = Date.now();
    const client = new TestClient(stack.relayUrl(model.id), { headers: { 'X-API-Key': stack.apiKey } });
    const frame = (await client.next(CONNECT_TIMEOUT_MS + SLACK_MS)).json();
    const { code } = await client.closed;
    const elapsedMs = Date.now() - started;
    assert.equal(frame.code, 'WS_CONNECT_ERROR', JSON.stringify(frame));
    assert.equal(code, 4502);
    assert.ok(elapsedMs < CONNECT_TIMEOUT_MS + SLACK_MS, `bounded: took ${elapsedMs} ms`);
    assertNoSecret(JSON.stringify(frame), 'the error frame');
    assertNoSecret(stack.logs.lines.join('\n'), 'the gateway logs');
    return { frame, elapsedMs };
  }

  function assertNoSecret(text: string, where: string): void {
    for (const secret of SECRETS) assert.ok(!text.includes(secret), `${where} must not contain the proxy credential ${JSON.stringify(secret)}`);
  }

  describe('SOCKS5 (dante)', () => {
    /** dante's line for a relayed connection: client → dante's port → … → the simulator's port. */
    const relayedLine = (server: ProxyServer, user = ''): RegExp =>
      new RegExp(`pass\\(\\d+\\): tcp/connect \\[: ${user}127\\.0\\.0\\.1\\.\\d+ 127\\.0\\.0\\.1\\.${server.port} -> 127\\.0\\.0\\.1\\.\\d+ 127\\.0\\.0\\.1\\.${simPort()}\\b`);

    it('socks5:// without auth: relays, and dante opened the upstream connection', async () => {
      const before = count(dante.log(), relayedLine(dante));
      await relayThrough(`socks5://127.0.0.1:${dante.port}`);
      await waitFor(() => count(dante.log(), relayedLine(dante)) === before + 1, 2000, 'dante to log the relayed connection');
    });

    // The quiet spell matters with wss:// only: over ws:// the `ws` library clears the idle
    // timer of the raw socket itself, but TLS wraps it and leaves that timer alone.
    it('socks5:// with a user and a URL-encoded password: relays as that user, and an open tunnel outlives the negotiation timeout', async () => {
      const line = relayedLine(danteAuth, `username%${SOCKS_USER}@`);
      const before = count(danteAuth.log(), line);
      await relayThrough(socksAuthUrl(danteAuth), stack.sim.wsUrl(), 2 * CONNECT_TIMEOUT_MS);
      await waitFor(() => count(danteAuth.log(), line) === before + 1, 2000, 'dante to log the authenticated connection');
    });

    it('socks5h:// hands the host name to the proxy to resolve; socks5:// resolves it in the gateway', async () => {
      const wsUrl = `wss://${PROXY_ONLY_HOST}:${simPort()}/ws3/24`;
      const asked = new RegExp(`could not resolve hostname "${PROXY_ONLY_HOST.replace(/\./g, '\\.')}"`);
      const before = count(danteAuth.log(), asked);
      const { frame } = await failThrough(socksAuthUrl(danteAuth, 'socks5h'), wsUrl);
      assert.equal(frame.stage, 'proxy');
      assert.equal(frame.error, `The proxy 127.0.0.1:${danteAuth.port} could not reach the OnlyFans host (SOCKS5: host unreachable)`);
      await waitFor(() => count(danteAuth.log(), asked) > before, 2000, 'dante to log the name it was asked to resolve');

      // dante logs each accepted client at once, before anything else happens to it.
      const accepted = /tcp\/accept \[:/;
      const clients = count(danteAuth.log(), accepted);
      const local = await failThrough(socksAuthUrl(danteAuth), wsUrl);
      assert.equal(local.frame.stage, 'connect');
      assert.equal(local.frame.error, `Could not resolve the OnlyFans host ${PROXY_ONLY_HOST}:${simPort()}`);
      assert.equal(count(danteAuth.log(), accepted), clients, 'socks5:// failed in the gateway, before reaching the proxy');

      // And with a name both can resolve, socks5h:// relays.
      await relayThrough(socksAuthUrl(danteAuth, 'socks5h'), `wss://localhost:${simPort()}/ws3/24`);
    });

    it('wrong password: authentication failed (SOCKS5)', async () => {
      const { frame } = await failThrough(`socks5://${SOCKS_USER}:${encodeURIComponent(`${SOCKS_PASSWORD}x`)}@127.0.0.1:${danteAuth.port}`);
      assert.equal(frame.stage, 'proxy');
      assert.equal(frame.error, `Proxy authentication failed at 127.0.0.1:${danteAuth.port} (SOCKS5)`);
    });

    it('no credentials for a proxy that requires them', async () => {
      const { frame } = await failThrough(`socks5h://127.0.0.1:${danteAuth.port}`);
      assert.equal(frame.stage, 'proxy');
      assert.equal(frame.error, `The proxy 127.0.0.1:${danteAuth.port} requires authentication (SOCKS5) and the model's proxy URL has no credentials`);
    });

    it('the proxy cannot reach the OnlyFans host', async () => {
      const closed = await freePort();
      const { frame } = await failThrough(socksAuthUrl(danteAuth), `wss://127.0.0.1:${closed}/ws3/24`);
      assert.equal(frame.stage, 'proxy');
      assert.equal(frame.error, `The proxy 127.0.0.1:${danteAuth.port} could not reach the OnlyFans host (SOCKS5: connection refused)`);
    });
  });

  describe('HTTP CONNECT (tinyproxy)', () => {
    const connectLine = (): RegExp => new RegExp(`Request \\(file descriptor \\d+\\): CONNECT 127\\.0\\.0\\.1:${simPort()} HTTP/1\\.1`);

    it('http:// without auth: relays, and tinyproxy opened the upstream connection', async () => {
      const before = count(tiny.log(), connectLine());
      await relayThrough(`http://127.0.0.1:${tiny.port}`);
      await waitFor(() => count(tiny.log(), connectLine()) === before + 1, 2000, 'tinyproxy to log the CONNECT');
    });

    it('http:// with BasicAuth: relays', async () => {
      const before = count(tinyAuth.log(), connectLine());
      await relayThrough(`http://${TINY_USER}:${TINY_PASSWORD}@127.0.0.1:${tinyAuth.port}`);
      await waitFor(() => count(tinyAuth.log(), connectLine()) === before + 1, 2000, 'tinyproxy to log the CONNECT');
    });

    it('a proxy that refuses CONNECT to the port: HTTP 403, not mistaken for OnlyFans refusing the upgrade', async () => {
      const { frame } = await failThrough(`http://127.0.0.1:${tinyPort443.port}`);
      assert.equal(frame.stage, 'proxy');
      assert.equal(frame.error, `The proxy 127.0.0.1:${tinyPort443.port} refused CONNECT (HTTP 403)`);
      assert.match(tinyPort443.log(), new RegExp(`Refused CONNECT method on port ${simPort()}`));
    });

    it('wrong password: authentication failed (tinyproxy answers 401)', async () => {
      const { frame } = await failThrough(`http://${TINY_USER}:${TINY_PASSWORD}x@127.0.0.1:${tinyAuth.port}`);
      assert.equal(frame.stage, 'proxy');
      assert.equal(frame.error, `Proxy authentication failed at 127.0.0.1:${tinyAuth.port} (HTTP 401)`);
    });

    it('no credentials for a proxy that requires them: HTTP 407', async () => {
      const { frame } = await failThrough(`http://127.0.0.1:${tinyAuth.port}`);
      assert.equal(frame.stage, 'proxy');
      assert.equal(frame.error, `The proxy 127.0.0.1:${tinyAuth.port} requires authentication (HTTP 407) and the model's proxy URL has no credentials`);
    });

    it('the proxy cannot reach the OnlyFans host', async () => {
      const closed = await freePort();
      const { frame } = await failThrough(`http://127.0.0.1:${tiny.port}`, `wss://127.0.0.1:${closed}/ws3/24`);
      assert.equal(frame.stage, 'proxy');
      assert.equal(frame.error, `The proxy 127.0.0.1:${tiny.port} could not open a tunnel to the OnlyFans host (HTTP 500)`);
    });

    it('a silent upstream behind a working tunnel times out at stage connect, not proxy', async () => {
      await withSilentServer(async (port) => {
        const { frame, elapsedMs } = await failThrough(`http://127.0.0.1:${tiny.port}`, `ws://127.0.0.1:${port}/ws3/24`);
        assert.equal(frame.stage, 'connect');
        assert.equal(frame.error, `Timed out opening the OnlyFans socket at 127.0.0.1:${port}`);
        assert.ok(elapsedMs >= CONNECT_TIMEOUT_MS - 50, `took ${elapsedMs} ms`);
      });
    });
  });

  describe('https:// (TLS to the proxy, then tinyproxy)', () => {
    it('relays when the proxy\'s certificate is trusted', async () => {
      const before = httpsFront.connections();
      await relayThrough(`https://127.0.0.1:${httpsFront.port}`);
      assert.equal(httpsFront.connections(), before + 1);
    });

    it('refuses a proxy certificate nobody vouches for', async () => {
      const { frame } = await failThrough(`https://127.0.0.1:${untrustedFront.port}`);
      assert.equal(frame.stage, 'proxy');
      assert.equal(frame.error, `TLS verification of the proxy 127.0.0.1:${untrustedFront.port} failed (DEPTH_ZERO_SELF_SIGNED_CERT)`);
    });
  });

  describe('proxies that fail without a proxy server behind them', () => {
    for (const scheme of ['http', 'socks5', 'socks5h']) {
      it(`${scheme}://: a dead proxy (closed port)`, async () => {
        const port = await freePort();
        const { frame } = await failThrough(`${scheme}://${SOCKS_USER}:${encodeURIComponent(SOCKS_PASSWORD)}@127.0.0.1:${port}`);
        assert.equal(frame.stage, 'proxy');
        assert.equal(frame.error, `Connection refused by the proxy 127.0.0.1:${port}`);
      });

      it(`${scheme}://: a proxy that accepts TCP and never answers, within the connect timeout; its socket is closed`, async () => {
        await withSilentServer(async (port, sockets) => {
          const { frame, elapsedMs } = await failThrough(`${scheme}://${SOCKS_USER}:${encodeURIComponent(SOCKS_PASSWORD)}@127.0.0.1:${port}`);
          assert.equal(frame.stage, 'proxy');
          assert.equal(frame.error, `Timed out connecting through the proxy 127.0.0.1:${port}`);
          assert.ok(elapsedMs >= CONNECT_TIMEOUT_MS - 50, `took ${elapsedMs} ms`);
          assert.equal(sockets.length, 1);
          await waitFor(() => sockets.every((s) => s.destroyed), 2000, 'the gateway to close its half-open socket to the proxy');
        });
      });
    }
  });
});

/** A TCP server that accepts and never says a word; its sockets are closed by their peer or at the end. */
async function withSilentServer(body: (port: number, sockets: net.Socket[]) => Promise<void>): Promise<void> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    // Read and drop what arrives, so the peer's FIN is seen; answering it makes `destroyed`
    // show that the gateway let go.
    s.resume();
    s.on('end', () => s.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await body((server.address() as net.AddressInfo).port, sockets);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  }
}
