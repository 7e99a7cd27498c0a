/**
 * Proof with real processes, two nodes (issue 14 point 8b): a session-mode model on two
 * `ofgw serve` processes sharing one PostgreSQL schema and one Redis prefix, fed by a simulator
 * in its own process streaming numbered events. The node holding the session is SIGKILLed: the
 * other takes it over within nodeTtlMs + one reconnect, OnlyFans never sees two sockets for the
 * model, the dead node's clients resume on the survivor with since, and every client got every
 * logged event once and in order; the only loss is what OnlyFans sent while no socket was open.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisEventLog } from '../../src/sessions/event-log-redis.js';
import { sessionKeys } from '../../src/sessions/types.js';
import { ADMIN_TOKEN, request, type Answer } from '../admin/admin-helpers.js';
import { startServe, type Served } from '../cli/cli-helpers.js';
import { REDIS_URL, serviceSkip } from '../services.js';
import {
  assertHolesAreTold,
  assertSawEverything,
  loggedEvents,
  pollUntil,
  readWholeLog,
  Recorder,
  seededRandom,
  startSandboxProcess,
  streamAccount,
  type SandboxProcess,
} from '../sessions/proof-helpers.js';
import { deleteKeys, tempSchema } from './cluster-helpers.js';

const skip = (await serviceSkip('postgres')) || (await serviceSkip('redis'));
const USER_ID = '424243';
const NODE_TTL_MS = 2000;
const RECONNECT_MAX_MS = 200;
/** Beyond nodeTtlMs + one reconnect: the host's acquire cadence (a fifth of the TTL) and a socket's handshake. */
const TAKEOVER_SLACK_MS = 1500;
const PER_SECOND = 50;
const CLIENTS_PER_NODE = 2;
const MASTER_KEY = randomBytes(32).toString('base64');
const SEED = Number(process.env.OFGW_PROOF_SEED ?? Math.floor(Math.random() * 2 ** 31));

interface Node {
  served: Served;
  alive: boolean;
  admin(method: string, path: string, body?: unknown): Promise<Answer>;
  url(modelId: string): string;
}

describe('a session-mode model survives the SIGKILL of the node holding it', { skip, timeout: 60_000 }, () => {
  let db: Awaited<ReturnType<typeof tempSchema>>;
  let sim: SandboxProcess;
  let redis: Redis;
  const prefix = `ofgw-test:${randomBytes(4).toString('hex')}:`;
  const nodes: Node[] = [];

  const startNode = async (): Promise<Node> => {
    const served = await startServe(
      [
        '--production', '--port', '0', '--db', db.url, '--redis', REDIS_URL, '--redis-prefix', prefix,
        '--node-ttl-ms', String(NODE_TTL_MS), '--session-reconnect-min-ms', '50', '--session-reconnect-max-ms', String(RECONNECT_MAX_MS),
        '--ip-connect-burst', '1000', '--key-connect-burst', '1000',
      ],
      { OFGW_MASTER_KEY: MASTER_KEY, OFGW_ADMIN_TOKEN: ADMIN_TOKEN, OFGW_LOG_LEVEL: 'info' },
    );
    const base = `127.0.0.1:${served.port}`;
    const node: Node = {
      served,
      alive: true,
      admin: (method, path, body) => request(`http://${base}/admin/v1${path}`, method, body, { authorization: `Bearer ${ADMIN_TOKEN}` }),
      url: (modelId) => `ws://${base}/api/models/${modelId}/ws`,
    };
    nodes.push(node);
    return node;
  };

  before(async () => {
    db = await tempSchema();
    sim = await startSandboxProcess(USER_ID);
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    await startNode();
    await startNode();
  });

  after(async () => {
    for (const node of nodes) await node.served.stop('SIGKILL');
    await sim?.stop();
    redis?.disconnect();
    await db?.drop();
    await deleteKeys(REDIS_URL, prefix);
  });

  it('the other node takes over in time, OnlyFans never sees two sockets, and every client gets every logged event once, in order', async () => {
    const random = seededRandom(SEED);
    const [one, two] = nodes as [Node, Node];
    const orgId = (await one.admin('POST', '/organizations', { name: 'Failover Agency' })).json<{ id: string }>().id;
    await one.admin('PUT', `/organizations/${orgId}/subscription`, { status: 'active' });
    const apiKey = (await one.admin('POST', `/organizations/${orgId}/keys`, { name: 'proof' })).json<{ key: string }>().key;
    const created = await one.admin('POST', `/organizations/${orgId}/models`, { wsUrl: sim.wsUrl, wsToken: sim.token, delivery: 'session' });
    assert.equal(created.status, 201, created.text);
    const modelId = created.json<{ id: string }>().id;
    const leaseKey = sessionKeys(prefix).lease(modelId);
    /** The node whose process id is in the lease's node id (`<host>-<pid>-<hex> <token>`). */
    const holder = async (): Promise<Node | undefined> => {
      const value = await redis.get(leaseKey);
      const pid = value ? Number(/-(\d+)-[0-9a-f]+ \d+$/.exec(value)?.[1]) : NaN;
      return nodes.find((n) => n.served.child.pid === pid);
    };
    await pollUntil(async () => (await sim.connections()) === 1 && (await holder()) !== undefined, 10_000, 'the session socket and its lease');
    await sim.control('POST', `users/${USER_ID}/stream`, { perSecond: PER_SECOND });
    await pollUntil(async () => (await sim.stream()).delivered.length > 0, 5000, 'the first streamed event');

    // Clients on both nodes; a dead node's clients go to whichever node is alive.
    const urlFor = (home: Node) => (): string => (home.alive ? home : (nodes.find((n) => n.alive) as Node)).url(modelId);
    const recorders = [one, two].flatMap((home, n) =>
      Array.from(
        { length: CLIENTS_PER_NODE },
        (_, i) => new Recorder(`node ${n + 1} client ${i + 1}`, { url: urlFor(home), apiKey, reconnectDelayMs: () => 20 + Math.floor(random() * 200), maxAttempts: 200 }),
      ),
    );
    await Promise.all(recorders.map((r) => r.begin()));
    // Events flow to everyone before the kill.
    const flowing = (r: Recorder, n: number): boolean => r.seen.length >= n || r.problems.length > 0;
    for (const r of recorders) await r.until(() => flowing(r, PER_SECOND / 2), 10_000, `${r.name}'s first events`);

    const doomed = await holder();
    assert.ok(doomed, 'one of the two nodes holds the session');
    const survivor = doomed === one ? two : one;
    const doomedClients = recorders.filter((_, i) => (doomed === one ? i < CLIENTS_PER_NODE : i >= CLIENTS_PER_NODE));
    await sim.control('POST', 'peaks/reset');
    doomed.alive = false;
    doomed.served.child.kill('SIGKILL');
    await doomed.served.exited;
    const killedAt = Date.now();
    await pollUntil(async () => (await holder()) === survivor && (await sim.connections()) === 1, NODE_TTL_MS + RECONNECT_MAX_MS + TAKEOVER_SLACK_MS + 2000, 'the survivor to take over');
    const takeoverMs = Date.now() - killedAt;
    assert.ok(takeoverMs <= NODE_TTL_MS + RECONNECT_MAX_MS + TAKEOVER_SLACK_MS, `taken over after ${takeoverMs} ms`);

    // The stream goes on through the survivor, then stops; one marker follows it.
    const afterTakeover = Math.max(...recorders.map((r) => r.seen.length)) + PER_SECOND;
    for (const r of recorders) await r.until(() => flowing(r, afterTakeover), 10_000, `${r.name}'s events after the takeover`);
    await sim.control('DELETE', `users/${USER_ID}/stream`);
    await pollUntil(
      async () => ((await sim.control('POST', `users/${USER_ID}/push`, { proof_end: { seed: SEED } })) as { delivered: number }).delivered === 1,
      5000,
      'the end marker to reach the session socket',
    );
    for (const r of recorders) await r.until(() => r.seen.some((e) => e.event === 'proof_end') || r.problems.length > 0, 15_000, `${r.name} to catch up`);
    const peaks = (await sim.control('GET', 'peaks')) as Record<string, { current: number; peak: number }>;
    for (const r of recorders) await r.stop();

    const log = await RedisEventLog.open({ url: REDIS_URL, prefix });
    let entries;
    try {
      entries = await readWholeLog(log, modelId);
    } finally {
      await log.close();
    }
    const events = loggedEvents(entries);
    assert.equal(events[events.length - 1]?.event, 'proof_end', 'the marker is the last event logged');
    for (const r of recorders) assertSawEverything(r, events);
    for (const r of doomedClients) {
      const resumedOn = r.connects.filter((c) => c.at >= killedAt);
      assert.ok(resumedOn.length > 0 && resumedOn.every((c) => c.url.startsWith(survivor.url(modelId)) && c.url.includes('&since=')), `${r.name} resumed on the survivor with since`);
      assert.equal(r.resumedFalse, 0, `${r.name}: every resume said resumed: true`);
    }
    const account = streamAccount(events, await sim.stream());
    const holes = assertHolesAreTold(entries);
    assert.ok(account.lostInFlight <= PER_SECOND, `at most a second of events in flight lost, got ${account.lostInFlight}`);
    assert.ok((peaks[USER_ID]?.peak ?? 0) <= 1, `the simulator saw ${JSON.stringify(peaks[USER_ID])} sockets at once for the model`);

    console.log(
      JSON.stringify({
        seed: SEED,
        takeoverMs,
        peakSocketsDuringFailover: peaks[USER_ID]?.peak ?? 0,
        clients: recorders.map((r) => ({ name: r.name, events: r.seen.length, confirmations: r.confirmations, statusFrames: r.statuses })),
        logEntries: entries.length,
        logEvents: events.length,
        logStatuses: entries.filter((e) => e.kind === 'status').map((e) => (JSON.parse(e.data.toString()) as { upstream: string }).upstream).join(','),
        stream: account,
        holesInLog: holes,
      }),
    );
    assert.ok(account.toNoSocket > 0, 'events sent while no socket was open are counted (the failover takes nodeTtlMs)');
  });
});
