/**
 * docs/deployment.md's nginx and HAProxy configurations, as written, in front of two real
 * `ofgw serve` nodes (one SQLite store and master key between them) and an OnlyFans simulator:
 * relaying, spreading, the contract's frames, X-Forwarded-For and the per-IP limits, keys kept
 * out of the access log, idle timeouts against the heartbeat, and draining one node. Also the
 * guide's sizing claim that a relay holds two file descriptors on its node.
 *
 * Everything listens on 127.0.0.1. Clients that must look like other machines connect from
 * other loopback addresses (127.0.0.2–127.0.0.6) to the load balancer on 127.0.0.1, which
 * reaches the nodes from 127.0.0.1: only X-Forwarded-For tells a node who the client is.
 *
 * The nginx suite is skipped when `nginx` is not installed and the HAProxy suite when
 * `haproxy` is not, except under CI=true, where a missing binary fails.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config.js';
import { startSimulator, type OnlyFansSimulator } from '../../src/sandbox/index.js';
import { freePort, TestClient } from '../helpers.js';
import { runCli, startServe, type Served } from '../cli/cli-helpers.js';
import {
  binarySkip,
  deploymentDoc,
  durationMs,
  haproxyTimeout,
  httpsGet,
  localizeHaproxy,
  localizeNginx,
  logRecords,
  makeCertificate,
  nginxDirective,
  settlesWithin,
  startHaproxy,
  startNginx,
  theBlock,
  waitFor,
  type Certificate,
  type LbFiles,
  type Proc,
} from './lb-harness.js';

const DOC = deploymentDoc();
const NGINX_BLOCK = theBlock(DOC, 'nginx');
const HAPROXY_BLOCK = theBlock(DOC, 'haproxy');
const HEARTBEAT_MS = loadConfig({}, {}).heartbeatIntervalMs;

const USER_ID = 515151;
/** Failed authentications one address may make per node before RATE_LIMITED (nodes' setting). */
const AUTH_BURST = 3;
const ADMIN_TOKEN = `deploy-test-admin-${randomBytes(16).toString('hex')}`;

describe('docs/deployment.md: the load-balancer blocks', () => {
  it(`keep idle relays above the heartbeat: timeouts exceed twice heartbeatIntervalMs (${HEARTBEAT_MS} ms)`, () => {
    const nginx = ['proxy_read_timeout', 'proxy_send_timeout'].map((d) => {
      const values = nginxDirective(NGINX_BLOCK, d);
      assert.equal(values.length, 1, `one ${d}`);
      return { d, ms: durationMs(values[0] as string, 's') };
    });
    const tunnel = haproxyTimeout(HAPROXY_BLOCK, 'tunnel');
    assert.equal(tunnel.length, 1, 'one timeout tunnel');
    for (const { d, ms } of [...nginx, { d: 'timeout tunnel', ms: durationMs(tunnel[0] as string, 'ms') }]) {
      // The gateway sends a ping every period on each leg and ends a peer silent for two; the
      // balancer's idle limit must never be what ends a healthy relay.
      assert.ok(ms > 2 * HEARTBEAT_MS, `${d} = ${ms} ms must exceed 2 × ${HEARTBEAT_MS} ms`);
    }
  });

  it('balance on open connections, set X-Forwarded-For and check /readyz', () => {
    assert.match(NGINX_BLOCK, /^\s*least_conn;/m);
    assert.match(NGINX_BLOCK, /^\s*zone ofgw_nodes /m);
    assert.match(NGINX_BLOCK, /proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;/);
    assert.match(NGINX_BLOCK, /^\s*proxy_buffering off;/m);
    assert.match(HAPROXY_BLOCK, /^\s*balance leastconn$/m);
    assert.match(HAPROXY_BLOCK, /^\s*option forwardfor$/m);
    assert.match(HAPROXY_BLOCK, /http-check send meth GET uri \/readyz /);
  });
});

interface Fixture {
  dir: string;
  db: string;
  env: Record<string, string>;
  sim: OnlyFansSimulator;
  apiKey: string;
  modelId: string;
  cert: Certificate;
}

let fx: Fixture;
const started: { stop(): Promise<unknown> }[] = [];

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ofgw-deploy-'));
  const db = join(dir, 'ofgw.db');
  const env = { OFGW_MASTER_KEY: randomBytes(32).toString('base64'), OFGW_ADMIN_TOKEN: ADMIN_TOKEN, OFGW_LOG_LEVEL: 'info' };
  const sim = await startSimulator({ host: '127.0.0.1', generator: false });
  const cli = async <T>(args: string[]): Promise<T> => {
    const r = await runCli([...args, '--json', '--db', db], env);
    assert.equal(r.code, 0, `ofgw ${args.join(' ')}: ${r.stderr}`);
    return r.json<T>();
  };
  const org = await cli<{ id: string }>(['org', 'create', '--name', 'Deploy test']);
  await cli(['subscription', 'set', '--org', org.id, '--status', 'active', '--plan', 'pro']);
  const key = await cli<{ key: string }>(['key', 'create', '--org', org.id, '--name', 'lb']);
  const token = sim.issueToken({ userId: USER_ID });
  const model = await cli<{ id: string }>(['model', 'add', '--org', org.id, '--ws-url', sim.wsUrl(24), '--ws-token', token, '--name', 'LB model']);
  fx = { dir, db, env, sim, apiKey: key.key, modelId: model.id, cert: makeCertificate(dir) };
});

after(async () => {
  for (const p of started.reverse()) await p.stop();
  await fx?.sim.close();
  if (fx) rmSync(fx.dir, { recursive: true, force: true });
});

/** A node on the shared store: trusts X-Forwarded-For, small per-IP failure budget, other limits out of the way. */
async function startNode(extra: string[] = []): Promise<Served> {
  const node = await startServe(
    [
      '--port', '0', '--db', fx.db, '--production', '--trust-forwarded-for',
      '--ip-auth-failure-burst', String(AUTH_BURST), '--ip-auth-failure-per-minute', '1',
      '--ip-connect-burst', '1000', '--key-connect-burst', '1000', '--max-upstream-sockets-per-model', '1000',
      ...extra,
    ],
    fx.env,
  );
  started.push({ stop: () => stopNode(node) });
  return node;
}

async function stopNode(node: Served): Promise<number | null> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return node.exited;
  node.child.kill('SIGTERM');
  if (!(await settlesWithin(node.exited, 15_000))) {
    node.child.kill('SIGKILL');
    await settlesWithin(node.exited, 2000);
  }
  return node.exited;
}

interface RelayOptions {
  key?: string | null;
  query?: string;
  modelId?: string;
  from?: string;
  headers?: Record<string, string>;
}

/** Every client a test opened, so that a failed test leaves none open for the next. */
const live: TestClient[] = [];

function relayVia(port: number, o: RelayOptions = {}): TestClient {
  const headers: Record<string, string> = { ...o.headers };
  if (o.key !== null) headers['x-api-key'] = o.key ?? fx.apiKey;
  const path = `/api/models/${o.modelId ?? fx.modelId}/ws${o.query ?? ''}`;
  const c = new TestClient(`wss://127.0.0.1:${port}${path}`, { ca: fx.cert.pem, headers, localAddress: o.from ?? '127.0.0.1' });
  live.push(c);
  return c;
}

function relayDirect(node: Served, o: RelayOptions = {}): TestClient {
  const headers: Record<string, string> = { ...o.headers };
  if (o.key !== null) headers['x-api-key'] = o.key ?? fx.apiKey;
  const c = new TestClient(`ws://127.0.0.1:${node.port}/api/models/${o.modelId ?? fx.modelId}/ws`, { headers, localAddress: o.from ?? '127.0.0.1' });
  live.push(c);
  return c;
}

afterEach(async () => {
  const open = live.splice(0, live.length).filter((c) => c.socket.readyState !== WebSocket.CLOSED);
  for (const c of open) c.socket.terminate();
  for (const c of open) await settlesWithin(c.closed, 5000);
});

async function closedWithin(c: TestClient, ms = 10_000): Promise<{ code: number; reason: string }> {
  assert.ok(await settlesWithin(c.closed, ms), `the relay closed within ${ms} ms`);
  return c.closed;
}

async function closeAll(clients: TestClient[]): Promise<void> {
  for (const c of clients) if (c.socket.readyState === WebSocket.OPEN || c.socket.readyState === WebSocket.CONNECTING) c.socket.close(1000);
  for (const c of clients) await closedWithin(c);
}

/** The first frame of a refused relay and its close. */
async function refusal(c: TestClient): Promise<{ frame: Record<string, unknown>; close: { code: number; reason: string } }> {
  const frame = (await c.next(10_000)).json();
  return { frame, close: await closedWithin(c) };
}

const opened = (node: Served): number => logRecords(node.stdout(), 'relay opened').length;

/**
 * How many relays each node opened since `before`, once `total` of them are in the logs (a
 * node writes `relay opened` as it sends the confirmation, so the line may trail it).
 */
async function openedSince(nodes: Served[], before: number[], total: number): Promise<number[]> {
  const deltas = (): number[] => nodes.map((n, i) => opened(n) - (before[i] as number));
  await waitFor(() => deltas().reduce((x, y) => x + y, 0) >= total, 5000, `${total} 'relay opened' lines`).catch((err: Error) => {
    throw new Error(`${err.message}; have ${deltas()}`);
  });
  const d = deltas();
  assert.equal(d.reduce((x, y) => x + y, 0), total, `exactly ${total} relays opened: ${d}`);
  return d;
}
const finished = (node: Served): number => logRecords(node.stdout(), 'relay closed').length;
/** Relays that opened and have since closed (refused attempts log `relay closed` without `openMs`). */
const openedThenClosed = (node: Served): number => logRecords(node.stdout(), 'relay closed').filter((r) => r.openMs !== undefined).length;

async function ask(c: TestClient): Promise<void> {
  c.socket.send(JSON.stringify({ act: 'get_onlines', ids: ['12345678', '87654321'] }));
  assert.deepEqual((await c.next(10_000)).json(), { online: ['12345678'] }, 'the upstream answers the client through the relay');
}

describe('sizing: a relay holds two file descriptors on its node', { skip: existsSync('/proc/self/fd') ? false : 'needs /proc' }, () => {
  it('20 relays add exactly 40 descriptors, and closing them gives them back', async () => {
    const node = await startNode();
    const fds = (): number => readdirSync(`/proc/${node.child.pid}/fd`).length;
    // One relay first, so that lazily opened files and threads are counted in the baseline.
    const warm = relayDirect(node);
    await warm.confirmed();
    await closeAll([warm]);
    await waitFor(() => finished(node) === 1, 5000, 'the warm-up relay to finish');
    const baseline = fds();
    const clients: TestClient[] = [];
    for (let i = 0; i < 20; i++) {
      const c = relayDirect(node);
      clients.push(c);
      await c.confirmed();
    }
    await waitFor(() => fds() === baseline + 40, 5000, `${baseline + 40} descriptors (baseline ${baseline})`).catch((err: Error) => {
      throw new Error(`${err.message}; have ${fds()}`);
    });
    await closeAll(clients);
    await waitFor(() => fds() === baseline, 5000, `the baseline ${baseline} descriptors again`).catch((err: Error) => {
      throw new Error(`${err.message}; have ${fds()}`);
    });
    await stopNode(node);
  });
});

interface Balancer {
  name: 'nginx' | 'haproxy';
  pkg: string;
  block: string;
  localize(block: string, o: LbFiles): string;
  start(conf: string, dir: string, port: number, ca: Buffer): Promise<Proc>;
  accessLog(dir: string, proc: Proc): string;
}

const BALANCERS: Balancer[] = [
  {
    name: 'nginx',
    pkg: 'nginx-light',
    block: NGINX_BLOCK,
    localize: localizeNginx,
    start: startNginx,
    accessLog: (dir) => (existsSync(join(dir, 'ofgw-access.log')) ? readFileSync(join(dir, 'ofgw-access.log'), 'utf8') : ''),
  },
  {
    name: 'haproxy',
    pkg: 'haproxy',
    block: HAPROXY_BLOCK,
    localize: localizeHaproxy,
    start: startHaproxy,
    accessLog: (_dir, proc) => proc.output,
  },
];

for (const lb of BALANCERS) {
  describe(`${lb.name} as configured in docs/deployment.md, in front of two nodes`, { skip: binarySkip(lb.name, lb.pkg) }, () => {
    let a: Served;
    let b: Served;
    let proxy: Proc;
    let port: number;
    let dir: string;

    /** Starts the doc's configuration (localized) in a folder of its own. */
    async function startBalancer(name: string, nodes: number[], idleTimeout?: string): Promise<{ proc: Proc; port: number; dir: string }> {
      const lbDir = join(fx.dir, `${lb.name}-${name}`);
      mkdirSync(lbDir, { recursive: true });
      const lbPort = await freePort();
      const conf = lb.localize(lb.block, { dir: lbDir, port: lbPort, nodes, cert: fx.cert, idleTimeout });
      const proc = await lb.start(conf, lbDir, lbPort, fx.cert.pem);
      started.push(proc);
      return { proc, port: lbPort, dir: lbDir };
    }

    before(async () => {
      a = await startNode();
      b = await startNode();
      ({ proc: proxy, port, dir } = await startBalancer('main', [a.port, b.port]));
    });

    after(async () => {
      await proxy?.stop();
      if (a) await stopNode(a);
      if (b) await stopNode(b);
    });

    /** Waits until every relay the nodes opened has finished, so least connections starts even. */
    async function settled(): Promise<void> {
      await waitFor(() => [a, b].every((n) => n.child.exitCode !== null || opened(n) === openedThenClosed(n)), 10_000, 'the nodes to have no open relay');
    }

    it('relays: the confirmation, simulator events and the answers to client actions, over wss://', async () => {
      fx.sim.setOnline(['12345678']);
      const server = relayVia(port); // a server-side client: key in X-API-Key
      const browser = relayVia(port, { key: null, query: `?api_key=${fx.apiKey}` }); // a browser: key in the query
      for (const c of [server, browser]) {
        assert.deepEqual(await c.confirmed(), { connected: true, modelId: fx.modelId });
        await ask(c);
      }
      const event = '{"api2_chat_message":{"id":9001,"text":"through the load balancer","fromUser":{"id":12345678}}}';
      assert.equal(fx.sim.push(USER_ID, event), 2, 'the simulator holds both relays');
      for (const c of [server, browser]) assert.equal((await c.next(10_000)).text, event, 'the event arrives byte for byte');
      await closeAll([server, browser]);
      await settled();
    });

    it('keeps the API key out of its access log', async () => {
      // The browser-style relay above sent ?api_key=; its log line is written once it closed.
      const path = `/api/models/${fx.modelId}/ws`;
      await waitFor(() => lb.accessLog(dir, proxy).split(path).length - 1 >= 2, 10_000, 'both relays in the access log');
      const log = lb.accessLog(dir, proxy);
      assert.ok(!log.includes(fx.apiKey), `the key is not in the access log:\n${log}`);
      assert.ok(!log.includes('api_key'), 'nor the query string');
    });

    it('spreads relays across both nodes (least connections)', async () => {
      const mark = [opened(a), opened(b)];
      const clients: TestClient[] = [];
      for (let i = 0; i < 6; i++) {
        const c = relayVia(port);
        clients.push(c);
        await c.confirmed();
      }
      const perNode = await openedSince([a, b], mark, 6);
      assert.ok(perNode.every((n) => n >= 2), `both nodes hold relays: ${perNode}`);
      await closeAll(clients);
      await settled();
    });

    it("passes the contract's error frames and close codes through unchanged", async () => {
      const cases: { what: string; o: RelayOptions; code: string; close: number }[] = [
        { what: 'a bad key', o: { key: 'ofgw_sk_notAValidKey', from: '127.0.0.3' }, code: 'INVALID_API_KEY', close: 4401 },
        { what: 'no key', o: { key: null, from: '127.0.0.3' }, code: 'NO_API_KEY', close: 4401 },
        { what: 'an unknown model', o: { modelId: randomUUID() }, code: 'MODEL_NOT_FOUND', close: 4404 },
      ];
      for (const { what, o, code, close } of cases) {
        const through = await refusal(relayVia(port, o));
        const direct = await refusal(relayDirect(a, { ...o, from: '127.0.0.6' }));
        assert.equal(through.frame.code, code, what);
        assert.deepEqual(through.frame, direct.frame, `${what}: the same frame as straight from a node`);
        assert.deepEqual(through.close, { code: close, reason: code }, `${what}: the close code and reason`);
      }
      // Plain HTTP through the balancer: the gateway's own JSON answers.
      const upgrade = await httpsGet(port, `/api/models/${fx.modelId}/ws`, fx.cert.pem);
      assert.equal(upgrade.status, 426);
      assert.equal((JSON.parse(upgrade.body) as { code: string }).code, 'UPGRADE_REQUIRED');
      const unknown = await httpsGet(port, '/nothing-here', fx.cert.pem);
      assert.equal(unknown.status, 404);
      assert.equal((JSON.parse(unknown.body) as { code: string }).code, 'NOT_FOUND');
      // The management API and /metrics answer on a node, not through the balancer.
      const metrics = await fetch(`http://127.0.0.1:${a.port}/metrics`);
      assert.equal(metrics.status, 200);
      const openapi = await fetch(`http://127.0.0.1:${a.port}/admin/v1/openapi.json`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      assert.equal(openapi.status, 200);
      for (const path of ['/metrics', '/admin/v1/openapi.json', '/admin/v1/relays']) {
        const r = await httpsGet(port, path, fx.cert.pem);
        assert.equal(r.status, 404, `${path} through the balancer`);
        assert.ok(!r.body.includes('ofgw_'), `${path}: the balancer's own answer`);
      }
      await settled();
    });

    it('gives each node the client address from X-Forwarded-For, which per-IP limits use', async () => {
      // A client at 127.0.0.2 guessing keys, forging a new X-Forwarded-For each time. The nodes
      // see every connection come from the balancer at 127.0.0.1; the balancer appends the
      // address it saw, and the nodes take the last entry. Each node allows AUTH_BURST failures
      // per address, so among 2 × AUTH_BURST + 1 attempts one must be refused.
      let limited: Record<string, unknown> | undefined;
      for (let i = 0; i < 2 * AUTH_BURST + 1 && !limited; i++) {
        const { frame, close } = await refusal(relayVia(port, { key: 'ofgw_sk_guessing', from: '127.0.0.2', headers: { 'x-forwarded-for': `198.51.100.${i + 1}` } }));
        if (frame.code === 'RATE_LIMITED') {
          limited = frame;
          assert.equal(close.code, 4429);
        } else assert.equal(frame.code, 'INVALID_API_KEY');
      }
      assert.ok(limited, 'the forged X-Forwarded-For entries did not escape the per-IP limit');
      assert.ok(typeof limited.retryAfterMs === 'number' && limited.retryAfterMs > 0, 'RATE_LIMITED carries retryAfterMs');

      // Another machine (127.0.0.4), even one claiming to be 127.0.0.2 in its own header, is not
      // limited, on either node: the balancer's own address is not what was counted.
      const mark = [opened(a), opened(b)];
      const clients: TestClient[] = [];
      for (let i = 0; i < 4; i++) {
        const c = relayVia(port, { from: '127.0.0.4', headers: { 'x-forwarded-for': '127.0.0.2' } });
        clients.push(c);
        await c.confirmed();
      }
      const perNode = await openedSince([a, b], mark, 4);
      assert.ok(perNode.every((n) => n >= 1), `both nodes admitted 127.0.0.4: ${perNode}`);
      await closeAll(clients);
      await settled();
    });

    it('cuts a quiet relay at its idle timeout unless the heartbeat is shorter', async () => {
      // The doc's blocks with the idle timeouts cut to 2 s. Nodes a and b ping every 25 s, so
      // the balancer ends a quiet relay; node c pings every 0.5 s, so it does not.
      const cut = await startBalancer('idle-2s', [a.port, b.port], '2s');
      const quiet = relayVia(cut.port);
      await quiet.confirmed();
      const t0 = Date.now();
      const closed = await closedWithin(quiet, 15_000);
      const lived = Date.now() - t0;
      assert.equal(closed.code, 1006, 'the balancer dropped the connection');
      assert.ok(lived >= 1500 && lived < 10_000, `cut after about 2 s (${lived} ms)`);
      await cut.proc.stop();

      const c = await startNode(['--heartbeat-interval-ms', '500']);
      const kept = await startBalancer('idle-2s-heartbeat', [c.port, c.port], '2s');
      const alive = relayVia(kept.port);
      await alive.confirmed();
      const stillOpen = !(await settlesWithin(alive.closed, 5000));
      assert.ok(stillOpen, 'a relay with heartbeats every 0.5 s outlives a 2 s idle timeout');
      await ask(alive);
      await closeAll([alive]);
      await kept.proc.stop();
      await stopNode(c);
      await settled();
    });

    it('drains a node on SIGTERM: its clients get 1012 and reconnect through the balancer to the other node', async () => {
      const mark = [opened(a), opened(b)];
      const clients: TestClient[] = [];
      for (let i = 0; i < 4; i++) {
        const c = relayVia(port);
        clients.push(c);
        await c.confirmed();
      }
      const [onA = 0] = await openedSince([a, b], mark, 4);
      assert.ok(onA >= 1 && onA <= 3, `both nodes hold some of the relays (${onA} on the first)`);

      const exit = stopNode(a);
      const drained: TestClient[] = [];
      await waitFor(
        () => {
          drained.splice(0, drained.length, ...clients.filter((c) => c.socket.readyState === WebSocket.CLOSED));
          return drained.length >= onA;
        },
        15_000,
        `the ${onA} relays of the drained node to close`,
      );
      for (const c of drained) assert.equal((await c.closed).code, 1012, 'closed with 1012: the gateway is restarting');
      assert.equal(await exit, 0, 'the drained node exits cleanly');
      assert.equal(drained.length, onA, 'only the drained node’s relays closed');
      const kept = clients.filter((c) => !drained.includes(c));

      const openedOnB = opened(b);
      const reconnected: TestClient[] = [];
      for (let i = 0; i < drained.length; i++) {
        const c = relayVia(port);
        reconnected.push(c);
        assert.deepEqual(await c.confirmed(), { connected: true, modelId: fx.modelId }, 'the reconnect is confirmed');
      }
      await openedSince([b], [openedOnB], drained.length); // every reconnect landed on the remaining node
      const event = '{"api2_chat_message":{"id":9002,"text":"after the drain"}}';
      assert.equal(fx.sim.push(USER_ID, event), kept.length + reconnected.length);
      for (const c of [...kept, ...reconnected]) assert.equal((await c.next(10_000)).text, event);

      if (lb.name === 'haproxy') {
        // The /readyz check takes the drained node out (two failed checks, 2 s apart).
        await waitFor(() => /Server ofgw_nodes\/node1 is DOWN/.test(proxy.output), 15_000, 'HAProxy to mark node1 down');
      }
      await closeAll([...kept, ...reconnected]);
    });
  });
}
