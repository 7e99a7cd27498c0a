/**
 * `ofgw serve --workers N` as real processes: N workers on one port with the machine's Redis,
 * relays spread over them, a rolling restart (SIGHUP) that moves every relay with 1012 to
 * the other workers, a killed worker replaced, SIGTERM draining everything, /metrics summed
 * over the workers, and start-up failures that stop at once with the reason.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, TestClient, waitFor } from '../helpers.js';
import { REDIS_URL, serviceSkip } from '../services.js';
import { deleteKeys } from '../cluster/cluster-helpers.js';
import { fdLimit } from '../../src/cli/fd-limit.js';
import { runCli, startServe, type Served } from './cli-helpers.js';

const ADMIN_TOKEN = 'workers-test-operator-token-'.padEnd(48, 'w');
/** Every Redis key of this run starts with this (deleted afterwards). */
const PREFIX = `ofgw-test-workers-${process.pid}-`;

type LogLine = Record<string, unknown> & { msg?: string; pid?: number };

function logLines(served: Served): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of served.stdout().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      // a line still being written
    }
  }
  return lines;
}

function withMsg(served: Served, msg: string): LogLine[] {
  return logLines(served).filter((l) => l.msg === msg);
}

/** True while a process with this pid exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A GET on a fresh connection, so that node:cluster hands it to the next worker. */
function getFresh(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/** The value of one sample line of Prometheus text, e.g. `ofgw_workers` or `x{a="b"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

interface Cluster {
  served: Served;
  port: number;
  modelId: string;
  apiKey: string;
  orgId: string;
  workerPids: number[];
  url: string;
  /** A new API key of the sandbox organization (one per client, to tell relays apart in the logs). */
  newKey(): Promise<{ id: string; key: string }>;
}

/**
 * One client that reconnects at once when its relay closes with 1012, at most
 * `maxReconnects` times; every relay is one API key's, so the n-th `relay opened` line with
 * that key id is its n-th relay.
 */
class Follower {
  readonly relays: TestClient[] = [];
  readonly closes: number[] = [];
  readonly errors: string[] = [];
  private reconnects = 0;
  private following = true;

  constructor(
    private readonly cluster: Cluster,
    readonly key: { id: string; key: string },
    private readonly maxReconnects = 5,
  ) {}

  async open(): Promise<TestClient> {
    const client = new TestClient(this.cluster.url, { headers: { 'X-API-Key': this.key.key } });
    this.relays.push(client);
    await client.confirmed();
    void client.closed.then(({ code }) => {
      if (this.relays[this.relays.length - 1] !== client) return;
      this.closes.push(code);
      if (code !== 1012 || !this.following || this.reconnects >= this.maxReconnects) return;
      this.reconnects++;
      this.open().catch((err: Error) => this.errors.push(err.message));
    });
    return client;
  }

  /** No more reconnecting (before stopping the gateway). */
  stop(): void {
    this.following = false;
  }

  get current(): TestClient {
    return this.relays[this.relays.length - 1] as TestClient;
  }

  /** The pid of the worker behind each of this key's relays, in order. */
  pids(): number[] {
    return withMsg(this.cluster.served, 'relay opened')
      .filter((l) => l.keyId === this.key.id)
      .map((l) => l.pid as number);
  }

  /** Waits until the log names the worker of every relay opened so far. */
  async settledPids(): Promise<number[]> {
    await waitFor(() => this.pids().length >= this.relays.length, 5000, `the 'relay opened' lines of key ${this.key.id}`);
    return this.pids();
  }
}

/** Asks who is online through the relay and waits for OnlyFans' (the simulator's) answer. */
async function roundTrip(client: TestClient): Promise<void> {
  client.socket.send(JSON.stringify({ act: 'get_onlines', ids: ['100001'] }));
  for (let i = 0; i < 20; i++) {
    const frame = (await client.next(5000)).json();
    if (Array.isArray(frame.online)) return;
  }
  throw new Error('no answer to get_onlines within 20 frames');
}

describe('ofgw serve --workers', { skip: await serviceSkip('redis') }, () => {
  let dir: string;
  const started: Served[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ofgw-workers-'));
  });
  after(async () => {
    // Whatever a failed test left running: the primary and every worker it logged.
    for (const served of started) {
      const pids = logLines(served)
        .filter((l) => l.msg === 'worker listening')
        .map((l) => l.pid as number);
      served.child.kill('SIGKILL');
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
      await Promise.race([served.exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    rmSync(dir, { recursive: true, force: true });
    // A killed worker leaves its relays' slots behind (the others ignore them once its
    // registration expires); the test's keys go.
    await deleteKeys(REDIS_URL, PREFIX);
  });

  async function startCluster(name: string, workers: number): Promise<Cluster> {
    const db = join(dir, name, 'ofgw.db');
    const sandboxPort = await freePort();
    const served = await startServe(
      [
        '--workers', String(workers),
        '--port', '0',
        '--db', db,
        '--sandbox-port', String(sandboxPort),
        '--redis', REDIS_URL,
        '--redis-prefix', `${PREFIX}${name}:`,
        '--shutdown-timeout-ms', '5000',
        '--max-upstream-sockets-per-model', '1000',
        '--key-connect-burst', '1000',
        '--ip-connect-burst', '1000',
        '--ip-connect-per-second', '1000',
      ],
      { OFGW_ADMIN_TOKEN: ADMIN_TOKEN },
    );
    started.push(served);
    await waitFor(() => /--url ws:/.test(served.stderr()), 5000, 'the sandbox banner');
    const banner = served.stderr();
    const m = /npx ofgw connect (\S+) --api-key (\S+)/.exec(banner);
    const org = /organization\s+(\S+)/.exec(banner);
    assert.ok(m && org, `the sandbox banner:\n${banner}`);
    const listening = withMsg(served, 'gateway listening');
    assert.equal(listening.length, 1, 'one "gateway listening" line, from the primary');
    const workerPids = listening[0]?.pids as number[];
    const base = `http://127.0.0.1:${served.port}`;
    return {
      served,
      port: served.port,
      modelId: m[1] as string,
      apiKey: m[2] as string,
      orgId: org[1] as string,
      workerPids,
      url: `ws://127.0.0.1:${served.port}/api/models/${m[1]}/ws`,
      async newKey() {
        const res = await fetch(`${base}/admin/v1/organizations/${org[1]}/keys`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'worker test' }),
        });
        assert.equal(res.status, 201);
        return (await res.json()) as { id: string; key: string };
      },
    };
  }

  async function followers(cluster: Cluster, n: number): Promise<Follower[]> {
    const list: Follower[] = [];
    for (let i = 0; i < n; i++) {
      const f = new Follower(cluster, await cluster.newKey());
      await f.open();
      await f.settledPids();
      list.push(f);
    }
    return list;
  }

  it('runs N workers on one port: relays spread over them, /metrics sums them, SIGTERM drains all with 1012', async () => {
    const cluster = await startCluster('spread', 3);
    const { served, workerPids } = cluster;
    const listening = withMsg(served, 'gateway listening')[0] as LogLine;
    assert.equal(listening.workers, 3);
    assert.equal(new Set(workerPids).size, 3);
    assert.ok(!workerPids.includes(served.child.pid as number), 'the workers are other processes');
    // Each worker logged its own start and file-descriptor budget.
    const workerLines = withMsg(served, 'worker listening');
    assert.deepEqual(workerLines.map((l) => l.pid).sort(), [...workerPids].sort());
    for (const line of workerLines) {
      assert.equal(line.port, cluster.port, 'every worker on the shared port');
      // Inherited from the primary, which inherited this process's: read from /proc where it exists.
      assert.deepEqual(line.fdLimit, fdLimit() ?? 'unknown');
    }
    // The primary seeded once and runs the one simulator; the banner is printed once.
    assert.equal(withMsg(served, 'sandbox seeded').length, 1);
    assert.equal(served.stderr().match(/ofgw sandbox seeded/g)?.length, 1);
    assert.ok(!served.stdout().includes(cluster.apiKey), 'the key is not in the logs');

    // Six relays, opened one after another: node:cluster hands them round-robin.
    const clients = await followers(cluster, 6);
    const pids = clients.map((f) => f.pids()[0] as number);
    for (const pid of pids) assert.ok(workerPids.includes(pid), `relay on worker ${pid}`);
    assert.equal(new Set(pids).size, 3, `relays on every worker: ${pids.join(', ')}`);
    for (const f of clients) await roundTrip(f.current);

    // Whichever worker a scrape lands on, it answers for all of them.
    for (let i = 0; i < 3; i++) {
      const { status, body } = await getFresh(`http://127.0.0.1:${cluster.port}/metrics`);
      assert.equal(status, 200, body);
      assert.equal(sample(body, 'ofgw_workers'), 3, body);
      assert.equal(sample(body, 'ofgw_relays_active{state="open"}'), 6);
      assert.equal(sample(body, 'ofgw_relay_messages_total{direction="client_to_upstream"}'), 6);
      assert.equal(body.match(/^# TYPE ofgw_event_loop_lag_seconds gauge$/gm)?.length, 1);
      assert.ok((sample(body, 'process_max_fds') ?? 0) > 0);
      // With redis (which workers need) the series exists: the lowest worker's, all reach Redis.
      assert.equal(sample(body, 'ofgw_cluster_coordination_up'), 1, body);
    }
    // Every worker answers the health check.
    for (let i = 0; i < 3; i++) {
      const { status } = await getFresh(`http://127.0.0.1:${cluster.port}/healthz`);
      assert.equal(status, 200);
    }

    for (const f of clients) f.stop();
    const exit = await served.stop('SIGTERM');
    for (const f of clients) assert.equal((await f.current.closed).code, 1012);
    assert.equal(exit, 0, served.stdout());
    assert.equal(withMsg(served, 'worker stopped').length, 3);
    assert.equal(withMsg(served, 'stopped').length, 1);
    for (const pid of workerPids) assert.ok(!alive(pid), `worker ${pid} exited`);
  });

  it('SIGHUP restarts the workers one by one: every relay gets 1012 and is confirmed again by another worker', async () => {
    const cluster = await startCluster('rolling', 3);
    const { served, workerPids } = cluster;
    const clients = await followers(cluster, 6);
    for (const f of clients) await roundTrip(f.current);
    const before = await getFresh(`http://127.0.0.1:${cluster.port}/metrics`);
    const sentBefore = sample(before.body, 'ofgw_relay_messages_total{direction="client_to_upstream"}') as number;
    assert.equal(sentBefore, 6);

    served.child.kill('SIGHUP');
    await waitFor(() => withMsg(served, 'rolling restart done').length === 1, 60_000, 'the rolling restart');
    const done = withMsg(served, 'rolling restart done')[0] as LogLine;
    const newPids = done.pids as number[];
    assert.equal(newPids.length, 3);
    for (const pid of newPids) assert.ok(!workerPids.includes(pid), `worker ${pid} is new`);
    for (const pid of workerPids) assert.ok(!alive(pid), `old worker ${pid} exited`);
    // Each step is logged: three workers started before three old ones drained.
    assert.equal(withMsg(served, 'rolling restart: worker listening').length, 3);
    assert.equal(withMsg(served, 'rolling restart: worker drained').length, 3);
    for (const line of withMsg(served, 'rolling restart: worker drained')) assert.equal(line.code, 0);

    // Every client is back on a new worker (the last drained worker's clients reconnect now).
    await waitFor(
      () => clients.every((f) => f.current.frames.length > 0 && f.pids().length === f.relays.length && newPids.includes(f.pids().at(-1) as number)),
      15_000,
      'every client confirmed on a new worker',
    );
    for (const f of clients) {
      assert.deepEqual(f.errors, []);
      assert.ok(f.closes.length >= 1, 'the relay was moved');
      assert.ok(
        f.closes.every((code) => code === 1012),
        `every close is 1012: ${f.closes.join(', ')}`,
      );
      const pids = await f.settledPids();
      // The reconnection after each 1012 was confirmed by another worker than the drained one.
      for (let i = 1; i < pids.length; i++) assert.notEqual(pids[i], pids[i - 1], `relay ${i} of key ${f.key.id} moved`);
      await roundTrip(f.current);
    }
    // A new client is served as before, and the counters did not go back.
    const fresh = await followers(cluster, 1);
    await roundTrip((fresh[0] as Follower).current);
    const after = await getFresh(`http://127.0.0.1:${cluster.port}/metrics`);
    assert.equal(sample(after.body, 'ofgw_workers'), 3);
    assert.equal(sample(after.body, 'ofgw_worker_exits_total{reason="drained"}'), 3);
    assert.ok((sample(after.body, 'ofgw_relay_messages_total{direction="client_to_upstream"}') as number) >= sentBefore + 7, after.body);
    assert.equal(sample(after.body, 'ofgw_relays_active{state="open"}'), 7);

    for (const f of [...clients, ...fresh]) f.stop();
    const exit = await served.stop('SIGTERM');
    for (const f of [...clients, ...fresh]) assert.equal((await f.current.closed).code, 1012);
    assert.equal(exit, 0);
  });

  it('replaces a worker killed with SIGKILL; the others keep relaying and new relays reach the new one', async () => {
    const cluster = await startCluster('killed', 2);
    const { served, workerPids } = cluster;
    const clients = await followers(cluster, 2);
    const [onVictim, onSurvivor] = clients as [Follower, Follower];
    const victim = onVictim.pids()[0] as number;
    assert.notEqual(onSurvivor.pids()[0], victim, 'one relay on each worker');

    process.kill(victim, 'SIGKILL');
    await waitFor(() => withMsg(served, 'worker replaced').length === 1, 20_000, 'the replacement');
    const died = withMsg(served, 'worker exited unexpectedly')[0] as LogLine;
    assert.equal(died.workerPid, victim);
    assert.equal(died.signal, 'SIGKILL');
    const replaced = withMsg(served, 'worker replaced')[0] as LogLine;
    assert.equal(replaced.replaces, victim);
    const replacement = replaced.workerPid as number;
    assert.ok(!workerPids.includes(replacement));
    assert.notEqual((await onVictim.current.closed).code, 1012, 'a killed worker cannot drain');

    // The survivor's relay never noticed.
    await roundTrip(onSurvivor.current);
    // New relays are confirmed, and the replacement takes its turn.
    const more = await followers(cluster, 4);
    const pids = more.map((f) => f.pids()[0] as number);
    assert.ok(pids.includes(replacement), `a relay on the replacement ${replacement}: ${pids.join(', ')}`);
    for (const f of more) await roundTrip(f.current);
    const { body } = await getFresh(`http://127.0.0.1:${cluster.port}/metrics`);
    assert.equal(sample(body, 'ofgw_workers'), 2);
    assert.equal(sample(body, 'ofgw_worker_exits_total{reason="unexpected"}'), 1);

    assert.equal(await served.stop('SIGTERM'), 0);
    assert.ok(!alive(replacement));
  });

  it('retries a worker that cannot start again with a growing backoff, and recovers once it can', async () => {
    const cluster = await startCluster('backoff', 2);
    const { served, workerPids } = cluster;
    // Without its key file a store holding encrypted secrets refuses to open: every
    // replacement fails until the file is back.
    const keys = join(dir, 'backoff', 'ofgw.keys');
    assert.ok(existsSync(keys), 'the key file the primary created');
    renameSync(keys, `${keys}.aside`);
    process.kill(workerPids[0] as number, 'SIGKILL');
    try {
      await waitFor(() => withMsg(served, 'replacement worker did not start').length >= 3, 30_000, 'three failed replacements');
    } finally {
      renameSync(`${keys}.aside`, keys);
    }
    const delays = withMsg(served, 'replacing worker').map((l) => l.inMs as number);
    assert.deepEqual(delays.slice(0, 3), [250, 500, 1000], 'the backoff doubles');
    for (const line of withMsg(served, 'replacement worker did not start')) assert.match(String(line.error), /could not start: .*key/i);
    await waitFor(() => withMsg(served, 'worker replaced').length === 1, 30_000, 'the replacement once the key file is back');
    const clients = await followers(cluster, 2);
    for (const f of clients) await roundTrip(f.current);
    for (const f of clients) f.stop();
    assert.equal(await served.stop('SIGTERM'), 0);
  });

  it('fails the start with the worker\'s own error when a worker cannot start, without retrying', async () => {
    const began = Date.now();
    const r = await runCli(
      [
        'serve', '--workers', '2', '--port', '0', '--db', join(dir, 'bad.db'), '--production',
        '--redis', REDIS_URL, '--redis-prefix', `${PREFIX}bad:`,
        '--upstream-ca-file', join(dir, 'no-such-ca.pem'),
      ],
    );
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /worker \d could not start: invalid upstreamCaFile: cannot read .*no-such-ca\.pem \(ENOENT\)/);
    assert.ok(Date.now() - began < 20_000, 'no retry loop');
    assert.equal(r.stdout.match(/"msg":"replacing worker"/g), null);

    // The port taken by another process: the workers cannot listen, the message names --port,
    // and the sandbox is not seeded (the primary seeds only once every worker listens).
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const port = (blocker.address() as net.AddressInfo).port;
      const db = join(dir, 'taken.db');
      const taken = await runCli([
        'serve', '--workers', '2', '--port', String(port), '--db', db, '--sandbox-port', String(await freePort()),
        '--redis', REDIS_URL, '--redis-prefix', `${PREFIX}taken:`,
      ]);
      assert.equal(taken.code, 1, taken.stderr);
      assert.match(taken.stderr, new RegExp(`worker \\d could not start: cannot listen on 127\\.0\\.0\\.1:${port} for the gateway: the port is already in use\\. .*--port or OFGW_PORT`));
      assert.deepEqual((await runCli(['org', 'list', '--json', '--db', db])).json(), [], 'nothing seeded');
    } finally {
      blocker.close();
    }
  });
});

describe('ofgw serve --workers without Redis', () => {
  it('refuses more than one worker without redis, naming the setting', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ofgw-workers-noredis-'));
    try {
      const r = await runCli(['serve', '--workers', '2', '--port', '0', '--db', join(dir, 'x.db')], { OFGW_REDIS: '' });
      assert.equal(r.code, 2);
      // OFGW_REDIS is what gave redis its (empty) value here, so that is what the message names.
      assert.match(r.stderr, /--workers 2 needs Redis: the workers share limits and relays through it; set OFGW_REDIS \(redis:\/\/…\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
