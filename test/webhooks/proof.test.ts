/**
 * Webhook proofs with real processes (issue 15 point 7): `ofgw serve` on SQLite and its
 * embedded event log, a session-mode model fed by a simulator in its own process, and a
 * receiver on 127.0.0.1. Endpoints are made through the store before the gateway starts (no
 * management API for them yet).
 *
 * (a) The receiver answers 503 for a while, slowly, and the gateway is SIGKILLed with attempts
 *     in flight, then started again on the same files: every logged event and every lifecycle
 *     event is accepted exactly once per webhook-id, with the body the store holds; every
 *     request is verified by `standardwebhooks`; the attempts the killed node never recorded
 *     were sent again once their claims ran out.
 * (b) The receiver refuses connections for a while, then listens: nothing is lost, and each
 *     delivery's attempt log shows the refused attempts, spaced by the schedule, then the 200.
 * (c) As (a) on two nodes (PostgreSQL and Redis, the log in Redis Streams), both claiming
 *     deliveries, and the node holding the session SIGKILLed: the other takes over the session
 *     and, once their claims run out, what the dead node had in flight.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RedisEventLog } from '../../src/sessions/event-log-redis.js';
import { SqliteEventLog } from '../../src/sessions/event-log-sqlite.js';
import type { EventLog, LogEntry } from '../../src/sessions/types.js';
import { openStore, type ModelEvent, type Store, type WebhookDelivery, type WebhookEndpointWithSecret } from '../../src/store/index.js';
import { webhookId } from '../../src/store/webhooks.js';
import { lifecycleType } from '../../src/webhooks/payloads.js';
// A node claims at most this many at once: a killed node had no more in flight.
import { CLAIM_BATCH } from '../../src/webhooks/worker.js';
import { startServe, type Served } from '../cli/cli-helpers.js';
import { deleteKeys, tempSchema } from '../cluster/cluster-helpers.js';
import { freePort, waitFor } from '../helpers.js';
import { REDIS_URL, serviceSkip } from '../services.js';
import { loggedEvents, pollUntil, readWholeLog, startSandboxProcess, type SandboxProcess } from '../sessions/proof-helpers.js';
import { startReceiver, verified, type Receiver, type ReceivedRequest } from './receiver.js';

const clusterSkip = (await serviceSkip('postgres')) || (await serviceSkip('redis'));

const MASTER_KEY = randomBytes(32).toString('base64');

/** A store with one organization, one session-mode model on the simulator, and one endpoint. */
interface Setup {
  store: Store;
  sim: SandboxProcess;
  modelId: string;
  endpoint: WebhookEndpointWithSecret;
  /** Starts an `ofgw serve` node on the setup's store (again after a kill, or another one). */
  serve(): Promise<Served>;
  /** The model's whole event log, read once every node is stopped. */
  readLog(): Promise<LogEntry[]>;
  close(): Promise<void>;
}

/** Where the nodes keep their store and event log: SQLite files, or PostgreSQL and Redis. */
interface Place {
  db: string;
  args: string[];
  openLog(): Promise<EventLog & { close(): Promise<void> }>;
  drop(): Promise<void>;
}

function sqlitePlace(): Place {
  const dir = mkdtempSync(join(tmpdir(), 'ofgw-whproof-'));
  const logFile = join(dir, 'events.db');
  return {
    db: join(dir, 'ofgw.db'),
    args: ['--event-log-file', logFile],
    openLog: async () => new SqliteEventLog({ path: logFile }),
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function clusterPlace(): Promise<Place> {
  const schema = await tempSchema();
  const prefix = `ofgw-whproof:${randomBytes(4).toString('hex')}:`;
  return {
    db: schema.url,
    args: ['--redis', REDIS_URL, '--redis-prefix', prefix],
    openLog: () => RedisEventLog.open({ url: REDIS_URL, prefix }),
    async drop() {
      await schema.drop();
      await deleteKeys(REDIS_URL, prefix);
    },
  };
}

async function prepare(place: Place, userId: string, receiverUrl: string, schedule: string): Promise<Setup> {
  const sim = await startSandboxProcess(userId);
  const store = await openStore(place.db, { masterKey: MASTER_KEY });
  const org = await store.createOrganization({ name: 'Webhook Proof' });
  await store.setSubscription(org.id, { status: 'active' });
  const model = await store.createModel(org.id, { wsUrl: sim.wsUrl, wsToken: sim.token, delivery: 'session' });
  const endpoint = await store.webhooks.createEndpoint(org.id, { url: receiverUrl });
  return {
    store,
    sim,
    modelId: model.id,
    endpoint,
    serve: () =>
      startServe(
        [
          '--production', '--port', '0', '--db', place.db, ...place.args,
          '--session-reconnect-min-ms', '50', '--session-reconnect-max-ms', '200', '--node-ttl-ms', '2000',
          '--webhook-allow-private-targets', '--webhook-retry-schedule', schedule, '--webhook-timeout-ms', '2000',
        ],
        { OFGW_MASTER_KEY: MASTER_KEY, OFGW_MASTER_KEY_FILE: '', OFGW_LOG_LEVEL: 'info' },
      ),
    async readLog() {
      const log = await place.openLog();
      try {
        return await readWholeLog(log, model.id);
      } finally {
        await log.close();
      }
    },
    async close() {
      await store.close();
      await sim.stop();
      await place.drop();
    },
  };
}

/** Every delivery of the endpoint, by webhook id (bounded pages). */
async function allDeliveries(store: Store, endpointId: string): Promise<Map<string, WebhookDelivery>> {
  const all = new Map<string, WebhookDelivery>();
  let before: string | undefined;
  for (let page = 0; page < 100; page++) {
    const rows = await store.webhooks.listDeliveries(endpointId, { limit: 1000, before });
    for (const row of rows) all.set(row.id, row);
    if (rows.length < 1000) return all;
    before = rows[rows.length - 1]?.id;
  }
  throw new Error('more than 100,000 deliveries');
}

/** The webhook ids of the model's lifecycle events that the endpoint takes (it existed then). */
function lifecycleIds(events: readonly ModelEvent[], endpoint: WebhookEndpointWithSecret): Set<string> {
  return new Set(events.filter((e) => lifecycleType(e.kind) !== undefined && e.at >= endpoint.createdAt).map((e) => webhookId(endpoint.id, `lifecycle:${e.seq}`)));
}

/** Requests by webhook id. */
function byId(requests: readonly ReceivedRequest[]): Map<string, ReceivedRequest[]> {
  const map = new Map<string, ReceivedRequest[]>();
  for (const r of requests) {
    const id = String(r.headers['webhook-id']);
    map.set(id, [...(map.get(id) ?? []), r]);
  }
  return map;
}

/** No signing secret in what the gateway printed (secrets never in logs). */
function assertNoSecretIn(served: Served, endpoint: WebhookEndpointWithSecret): void {
  const key = endpoint.secret.slice('whsec_'.length);
  for (const text of [served.stdout(), served.stderr()]) assert.ok(!text.includes(key), 'the webhook secret is not in the gateway output');
}

/** Receiver answers for (a) and (c): 503s held back `holdMs` while refusing, then mostly 200s. */
function refusingThenMostlyAccepting(receiver: Receiver, holdMs: number): { accept(): void } {
  let refusing = true;
  // Held back so that attempts are in flight when a node dies; every fourth still a 503 later.
  receiver.answer = (n) => (refusing ? { status: 503, delayMs: holdMs } : { status: n % 4 === 0 ? 503 : 200 });
  return { accept: () => (refusing = false) };
}

/** Whether the receiver answered 200 to a request of this type. */
function accepted(receiver: Receiver, type: string): boolean {
  return receiver.requests.some((r) => r.status === 200 && r.body.includes(`"type":"${type}"`));
}

/**
 * An upstream outage (the simulator refuses the session's reconnects for a while), then the
 * end: the stream stops, a marker follows it, and the operator disconnects the model from
 * another process, as `ofgw model disconnect` does. Returns once nothing is pending, with the
 * webhook ids of the lifecycle events recorded until then.
 */
async function outageThenEnd(setup: Setup, receiver: Receiver, userId: string): Promise<Set<string>> {
  const { sim, store, modelId, endpoint } = setup;
  await pollUntil(async () => (await sim.connections()) === 1, 15_000, 'the session socket');
  await sim.control('POST', 'faults', { fault: { kind: 'refuse' } });
  await sim.control('POST', `users/${userId}/drop`);
  const recorded = async (kind: string): Promise<boolean> => (await store.listModelEvents(modelId, 1000)).some((e) => e.kind === kind);
  await pollUntil(() => recorded('session.upstream_down'), 10_000, 'session.upstream_down');
  await sim.control('DELETE', 'faults');
  await pollUntil(() => recorded('session.upstream_restored'), 10_000, 'session.upstream_restored');
  await waitFor(() => receiver.requests.filter((r) => r.status === 200).length >= 150, 20_000, '150 accepted deliveries');
  await sim.control('DELETE', `users/${userId}/stream`);
  await pollUntil(
    async () => ((await sim.control('POST', `users/${userId}/push`, { proof_end: { marker: true } })) as { delivered: number }).delivered === 1,
    5000,
    'the end marker to reach the session socket',
  );
  await waitFor(() => accepted(receiver, 'onlyfans.proof_end'), 20_000, 'the end marker delivered');
  await store.setModelStatus(modelId, 'disconnected');
  // Also what a killed node had claimed: its claims run out after the attempt timeout plus
  // the lease margin, about 12 s.
  await pollUntil(
    async () => accepted(receiver, 'model.disconnected') && (await store.webhooks.listDeliveries(endpoint.id, { status: 'pending', limit: 1 })).length === 0,
    30_000,
    'every delivery done',
  );
  return lifecycleIds(await store.listModelEvents(modelId, 1000), endpoint);
}

/**
 * The proof once every node is stopped: one delivery per logged event and per lifecycle event
 * (those of the shutdown itself aside, enqueued after the workers stopped), all delivered;
 * every request verified; each webhook-id accepted exactly once, with the body the store
 * holds; no attempt recorded without a request. Returns the requests no node recorded (those
 * in flight at a kill) and the nodes that recorded attempts.
 */
async function assertAcceptedOnce(setup: Setup, receiver: Receiver, lifecycleBeforeStop: Set<string>): Promise<{ logged: number; unrecorded: number; nodes: Set<string> }> {
  const { store, modelId, endpoint } = setup;
  const events = loggedEvents(await setup.readLog()).filter((e) => e.event !== null);
  assert.equal(events[events.length - 1]?.event, 'proof_end', 'the marker is the last event logged');
  const eventIds = new Map(events.map((e) => [webhookId(endpoint.id, `event:${modelId}:${e.id}`), e]));
  const expected = new Set([...eventIds.keys(), ...lifecycleBeforeStop]);
  const deliveries = await allDeliveries(store, endpoint.id);
  const atStop = [...lifecycleIds(await store.listModelEvents(modelId, 1000), endpoint)].filter((id) => !lifecycleBeforeStop.has(id));
  assert.deepEqual([...deliveries.keys()].filter((id) => !expected.has(id)).sort(), atStop.sort(), 'no delivery but those of logged and lifecycle events');
  for (const id of expected) assert.equal(deliveries.get(id)?.status, 'delivered', `delivery ${id} (${eventIds.get(id)?.id ?? 'lifecycle'}) delivered`);
  const types = new Set([...deliveries.values()].map((d) => d.type));
  for (const type of ['session.upstream_down', 'session.upstream_restored', 'model.disconnected']) assert.ok(types.has(type), `a ${type} delivery`);

  for (const r of receiver.requests) verified(endpoint.secret, r);
  const received = byId(receiver.requests);
  for (const id of expected) {
    const oks = (received.get(id) ?? []).filter((r) => r.status === 200);
    assert.equal(oks.length, 1, `webhook-id ${id} accepted once`);
    assert.equal(oks[0]?.body, deliveries.get(id)?.payload);
  }
  assert.deepEqual([...received.keys()].filter((id) => !expected.has(id)), [], 'no request for anything else');
  for (const [id, seen] of eventIds) {
    const body = JSON.parse((deliveries.get(id) as WebhookDelivery).payload) as { type: string; data: { eventId: string; modelId: string } };
    assert.deepEqual([body.type, body.data.eventId, body.data.modelId], [`onlyfans.${seen.event}`, seen.id, modelId]);
  }

  let unrecorded = 0;
  const nodes = new Set<string>();
  for (const id of expected) {
    const attempts = await store.webhooks.listAttempts(id);
    for (const a of attempts) nodes.add(a.node);
    const requests = received.get(id)?.length ?? 0;
    assert.ok(requests >= attempts.length, `${id}: no attempt recorded without a request`);
    assert.equal(attempts[attempts.length - 1]?.statusCode, 200, `${id}: the last attempt is the 200`);
    unrecorded += requests - attempts.length;
  }
  return { logged: events.length, unrecorded, nodes };
}

describe('webhooks from real ofgw serve processes', { timeout: 180_000 }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  it('accepts every logged and lifecycle event once per webhook-id through 503s and a SIGKILLed gateway', { timeout: 60_000 }, async () => {
    const USER_ID = '515151';
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const answers = refusingThenMostlyAccepting(receiver, 150);
    const setup = await prepare(sqlitePlace(), USER_ID, receiver.url, '200ms,400ms,800ms,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s');
    cleanups.push(() => setup.close());
    const { sim, endpoint } = setup;
    const outputs: Served[] = [];
    let served = await setup.serve();
    outputs.push(served);
    cleanups.push(() => served.stop('SIGKILL'));
    await pollUntil(async () => (await sim.connections()) === 1, 10_000, 'the session socket');
    await sim.control('POST', `users/${USER_ID}/stream`, { perSecond: 40 });

    // The kill, once some deliveries were refused and a few attempts wait for their answer.
    await waitFor(() => receiver.requests.length >= 40 && receiver.holding >= 3, 15_000, 'refused attempts, some in flight');
    const heldAtKill = receiver.holding;
    served.child.kill('SIGKILL');
    await served.exited;
    const requestsAtKill = receiver.requests.length;
    served = await setup.serve();
    outputs.push(served);
    // The new process is refused a while too, then mostly accepted while the stream goes on.
    await waitFor(() => receiver.requests.length >= requestsAtKill + 40, 20_000, 'refused attempts from the restarted gateway');
    answers.accept();
    const lifecycle = await outageThenEnd(setup, receiver, USER_ID);
    assert.equal(await served.stop('SIGTERM'), 0);

    const { logged, unrecorded, nodes } = await assertAcceptedOnce(setup, receiver, lifecycle);
    // The killed process's attempts in flight were never recorded (their answers went
    // nowhere); their deliveries were accepted later all the same, from the new process.
    assert.ok(unrecorded >= 1 && unrecorded <= CLAIM_BATCH, `attempts in flight at the kill were sent again (${unrecorded} unrecorded, ${heldAtKill} held at the kill)`);
    assert.equal(nodes.size, 2, 'the killed and the restarted process both recorded attempts');
    for (const s of outputs) assertNoSecretIn(s, endpoint);
    console.log(JSON.stringify({ logged, lifecycle: lifecycle.size, requests: receiver.requests.length, refused: receiver.requests.filter((r) => r.status === 503).length, heldAtKill, unrecorded }));
    assert.ok(logged >= 150, `a real stream was logged (${logged} events)`);
  });

  it('delivers everything once a receiver that refused connections listens, each attempt log showing the refusals then the 200', { timeout: 60_000 }, async () => {
    const USER_ID = '525252';
    const SCHEDULE = [100, 200, 400, 800, 1000, 1000, 1000, 1000, 1000, 1000];
    const port = await freePort();
    const setup = await prepare(sqlitePlace(), USER_ID, `http://127.0.0.1:${port}/hooks`, SCHEDULE.map((ms) => `${ms}ms`).join(','));
    cleanups.push(() => setup.close());
    const { store, sim, endpoint, modelId } = setup;
    const served = await setup.serve();
    cleanups.push(() => served.stop('SIGKILL'));
    await pollUntil(async () => (await sim.connections()) === 1, 10_000, 'the session socket');
    const N = 25;
    for (let i = 1; i <= N; i++) {
      const pushed = (await sim.control('POST', `users/${USER_ID}/push`, { api2_chat_message: { id: i, text: `down ${i}` } })) as { delivered: number };
      assert.equal(pushed.delivered, 1);
    }
    const deliveryList = async (): Promise<WebhookDelivery[]> => [...(await allDeliveries(store, endpoint.id)).values()];
    await pollUntil(async () => (await deliveryList()).filter((d) => d.type === 'onlyfans.api2_chat_message').length === N, 10_000, 'the events enqueued');
    // A lifecycle event too: the operator disconnects the model from another process.
    await store.setModelStatus(modelId, 'disconnected');
    // Down until every delivery was refused twice.
    await pollUntil(
      async () => {
        const all = await deliveryList();
        return all.some((d) => d.type === 'model.disconnected') && all.every((d) => d.attempts >= 2);
      },
      15_000,
      'every delivery refused twice',
    );
    const receiver = await startReceiver('/hooks', port);
    cleanups.push(() => receiver.close());
    await pollUntil(async () => (await store.webhooks.listDeliveries(endpoint.id, { status: 'pending', limit: 1 })).length === 0, 20_000, 'every delivery done');
    const deliveries = await allDeliveries(store, endpoint.id);
    const lifecycle = lifecycleIds(await store.listModelEvents(modelId, 1000), endpoint);
    assert.equal(await served.stop('SIGTERM'), 0);

    const entries = await setup.readLog();
    // The simulator's own frames on connect are logged and delivered too.
    const logged = loggedEvents(entries).filter((e) => e.event !== null);
    const expected = [...logged.map((e) => webhookId(endpoint.id, `event:${modelId}:${e.id}`)), ...lifecycle].sort();
    assert.deepEqual([...deliveries.keys()].sort(), expected, 'one delivery per logged event and per lifecycle event');
    assert.equal(lifecycle.size, 1, 'model.disconnected');
    const frames = [...deliveries.values()]
      .filter((d) => d.type === 'onlyfans.api2_chat_message')
      .map((d) => (JSON.parse(d.payload) as { data: { frame: { api2_chat_message: { id: number } } } }).data.frame.api2_chat_message.id);
    assert.deepEqual(frames.sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i + 1), 'every pushed event has a delivery');
    const received = byId(receiver.requests);
    for (const [id, delivery] of deliveries) {
      assert.equal(delivery.status, 'delivered', `${id} delivered`);
      const requests = received.get(id) ?? [];
      assert.equal(requests.length, 1, `${id}: one request reached the receiver`);
      assert.equal(requests[0]?.status, 200);
      assert.equal(requests[0]?.body, delivery.payload);
      verified(endpoint.secret, requests[0] as ReceivedRequest);
      const attempts = await store.webhooks.listAttempts(id);
      assert.equal(attempts.length, delivery.attempts);
      const last = attempts[attempts.length - 1];
      assert.deepEqual([last?.statusCode, last?.error], [200, null], `${id}: the last attempt succeeded`);
      const refusedOnes = attempts.slice(0, -1);
      assert.ok(refusedOnes.length >= 2, `${id}: refused at least twice`);
      for (const a of refusedOnes) assert.deepEqual([a.statusCode, a.error], [null, 'connection failed: ECONNREFUSED'], `${id}: attempt ${a.seq} refused`);
      for (let i = 1; i < attempts.length; i++) {
        const gap = Date.parse((attempts[i] as { at: string }).at) - Date.parse((attempts[i - 1] as { at: string }).at);
        assert.ok(gap >= (SCHEDULE[i - 1] as number), `${id}: attempt ${i + 1} came ${gap} ms after the one before, not before the schedule's ${SCHEDULE[i - 1]} ms`);
      }
    }
    assertNoSecretIn(served, endpoint);
  });

  it('on two nodes (PostgreSQL, Redis) with the session holder SIGKILLed, accepts each webhook-id once', { skip: clusterSkip, timeout: 60_000 }, async () => {
    const USER_ID = '535353';
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    // Held 1 s: each node has at most CLAIM_BATCH attempts in flight, so more held than that
    // means the node to be killed has some.
    const answers = refusingThenMostlyAccepting(receiver, 1000);
    const setup = await prepare(await clusterPlace(), USER_ID, receiver.url, '200ms,400ms,800ms,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s');
    cleanups.push(() => setup.close());
    const { sim, endpoint } = setup;
    // The first node takes the session; the second starts once it has.
    const first = await setup.serve();
    cleanups.push(() => first.stop('SIGKILL'));
    await pollUntil(async () => (await sim.connections()) === 1, 10_000, 'the session socket on the first node');
    const second = await setup.serve();
    cleanups.push(() => second.stop('SIGKILL'));
    await sim.control('POST', `users/${USER_ID}/stream`, { perSecond: 40 });

    await waitFor(() => receiver.requests.length >= 60 && receiver.holding > CLAIM_BATCH + 2, 20_000, 'both nodes with attempts in flight');
    const heldAtKill = receiver.holding;
    first.child.kill('SIGKILL');
    await first.exited;
    const requestsAtKill = receiver.requests.length;
    await waitFor(() => receiver.requests.length >= requestsAtKill + 40, 20_000, 'refused attempts from the second node');
    answers.accept();
    // The second node takes the session over once the first one's ownership runs out.
    const lifecycle = await outageThenEnd(setup, receiver, USER_ID);
    assert.equal(await second.stop('SIGTERM'), 0);

    const { logged, unrecorded, nodes } = await assertAcceptedOnce(setup, receiver, lifecycle);
    assert.ok(unrecorded >= 1 && unrecorded <= CLAIM_BATCH, `the killed node's attempts in flight were sent again (${unrecorded} unrecorded, ${heldAtKill} held at the kill)`);
    assert.equal(nodes.size, 2, 'both nodes recorded attempts');
    for (const s of [first, second]) assertNoSecretIn(s, endpoint);
    console.log(JSON.stringify({ logged, lifecycle: lifecycle.size, requests: receiver.requests.length, refused: receiver.requests.filter((r) => r.status === 503).length, heldAtKill, unrecorded }));
    assert.ok(logged >= 150, `a real stream was logged (${logged} events)`);
  });
});
