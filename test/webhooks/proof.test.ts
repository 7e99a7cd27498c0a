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
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SqliteEventLog } from '../../src/sessions/event-log-sqlite.js';
import { openStore, type ModelEvent, type Store, type WebhookDelivery, type WebhookEndpointWithSecret } from '../../src/store/index.js';
import { webhookId } from '../../src/store/webhooks.js';
import { lifecycleType } from '../../src/webhooks/payloads.js';
import { startServe, type Served } from '../cli/cli-helpers.js';
import { freePort, waitFor } from '../helpers.js';
import { loggedEvents, pollUntil, readWholeLog, startSandboxProcess, type SandboxProcess } from '../sessions/proof-helpers.js';
import { startReceiver, verified, type Receiver, type ReceivedRequest } from './receiver.js';

const MASTER_KEY = randomBytes(32).toString('base64');
/** The worker claims at most this many at once (worker.ts): a killed node had no more in flight. */
const CLAIM_BATCH = 20;

/** A store with one organization, one session-mode model on the simulator, and one endpoint. */
interface Setup {
  dir: string;
  store: Store;
  sim: SandboxProcess;
  modelId: string;
  endpoint: WebhookEndpointWithSecret;
  logFile: string;
  /** Starts `ofgw serve` on the setup's files and port (again after a kill). */
  serve(): Promise<Served>;
  close(): Promise<void>;
}

async function prepare(userId: string, receiverUrl: string, schedule: string): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'ofgw-whproof-'));
  const db = join(dir, 'ofgw.db');
  const logFile = join(dir, 'events.db');
  const port = await freePort();
  const sim = await startSandboxProcess(userId);
  const store = await openStore(db, { masterKey: MASTER_KEY });
  const org = await store.createOrganization({ name: 'Webhook Proof' });
  await store.setSubscription(org.id, { status: 'active' });
  const model = await store.createModel(org.id, { wsUrl: sim.wsUrl, wsToken: sim.token, delivery: 'session' });
  const endpoint = await store.webhooks.createEndpoint(org.id, { url: receiverUrl });
  const serve = (): Promise<Served> =>
    startServe(
      [
        '--production', '--port', String(port), '--db', db, '--event-log-file', logFile,
        '--session-reconnect-min-ms', '50', '--session-reconnect-max-ms', '200', '--node-ttl-ms', '2000',
        '--webhook-allow-private-targets', '--webhook-retry-schedule', schedule, '--webhook-timeout-ms', '2000',
      ],
      { OFGW_MASTER_KEY: MASTER_KEY, OFGW_LOG_LEVEL: 'info' },
    );
  return {
    dir,
    store,
    sim,
    modelId: model.id,
    endpoint,
    logFile,
    serve,
    async close() {
      await store.close();
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
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

describe('webhooks from real ofgw serve processes', { timeout: 120_000 }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  it('accepts every logged and lifecycle event once per webhook-id through 503s and a SIGKILLed gateway', { timeout: 60_000 }, async () => {
    const USER_ID = '515151';
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    // Refusing: 503, held back 150 ms, so that attempts are in flight when the gateway dies.
    // Then mostly accepting: every fourth request still gets a 503.
    let refusing = true;
    receiver.answer = (n) => (refusing ? { status: 503, delayMs: 150 } : { status: n % 4 === 0 ? 503 : 200 });
    const setup = await prepare(USER_ID, receiver.url, '200ms,400ms,800ms,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s');
    cleanups.push(() => setup.close());
    const { store, sim, endpoint, modelId } = setup;
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
    refusing = false;
    // An upstream outage on the restarted node: session.upstream_down, then _restored.
    await pollUntil(async () => (await sim.connections()) === 1, 10_000, 'the session socket after the kill');
    await sim.control('POST', 'faults', { fault: { kind: 'refuse' } });
    await sim.control('POST', `users/${USER_ID}/drop`);
    const recorded = async (kind: string): Promise<boolean> => (await store.listModelEvents(modelId, 1000)).some((e) => e.kind === kind);
    await pollUntil(() => recorded('session.upstream_down'), 10_000, 'session.upstream_down');
    await sim.control('DELETE', 'faults');
    await pollUntil(() => recorded('session.upstream_restored'), 10_000, 'session.upstream_restored');
    await waitFor(() => receiver.requests.filter((r) => r.status === 200).length >= 150, 20_000, '150 accepted deliveries');
    await sim.control('DELETE', `users/${USER_ID}/stream`);
    await pollUntil(
      async () => ((await sim.control('POST', `users/${USER_ID}/push`, { proof_end: { marker: true } })) as { delivered: number }).delivered === 1,
      5000,
      'the end marker to reach the session socket',
    );
    const accepted = (type: string): boolean => receiver.requests.some((r) => r.status === 200 && r.body.includes(`"type":"${type}"`));
    await waitFor(() => accepted('onlyfans.proof_end'), 20_000, 'the end marker delivered');
    // The operator disconnects the model from another process, as `ofgw model disconnect` does.
    await store.setModelStatus(modelId, 'disconnected');
    // Everything is delivered, also what the killed node had claimed (its claims run out
    // after the attempt timeout plus the lease margin, about 12 s).
    await pollUntil(
      async () => accepted('model.disconnected') && (await store.webhooks.listDeliveries(endpoint.id, { status: 'pending', limit: 1 })).length === 0,
      30_000,
      'every delivery done',
    );
    const lifecycleBeforeStop = lifecycleIds(await store.listModelEvents(modelId, 1000), endpoint);
    assert.equal(await served.stop('SIGTERM'), 0);

    const log = new SqliteEventLog({ path: setup.logFile });
    let entries;
    try {
      entries = await readWholeLog(log, modelId);
    } finally {
      await log.close();
    }
    const events = loggedEvents(entries).filter((e) => e.event !== null);
    assert.equal(events[events.length - 1]?.event, 'proof_end', 'the marker is the last event logged');
    const eventIds = new Map(events.map((e) => [webhookId(endpoint.id, `event:${modelId}:${e.id}`), e]));
    const expected = new Set([...eventIds.keys(), ...lifecycleBeforeStop]);
    const deliveries = await allDeliveries(store, endpoint.id);
    // Lifecycle events of the shutdown itself were enqueued after the worker stopped.
    const atStop = [...lifecycleIds(await store.listModelEvents(modelId, 1000), endpoint)].filter((id) => !lifecycleBeforeStop.has(id));
    assert.deepEqual([...deliveries.keys()].filter((id) => !expected.has(id)).sort(), atStop.sort(), 'no delivery but those of logged and lifecycle events');
    for (const id of expected) assert.equal(deliveries.get(id)?.status, 'delivered', `delivery ${id} (${eventIds.get(id)?.id ?? 'lifecycle'}) delivered`);

    // The receiver's side: every request verified, each expected webhook-id accepted exactly
    // once with the body the store holds, nothing else accepted.
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

    // The kill left attempts that no node recorded (their answers never arrived); those
    // deliveries were sent again later, by the new process. Both processes recorded attempts.
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
    assert.ok(unrecorded >= 1 && unrecorded <= CLAIM_BATCH, `attempts in flight at the kill were sent again (${unrecorded} unrecorded, ${heldAtKill} held at the kill)`);
    assert.equal(nodes.size, 2, 'the killed and the restarted process both recorded attempts');
    for (const s of outputs) assertNoSecretIn(s, endpoint);
    const refused = receiver.requests.filter((r) => r.status === 503).length;
    const types = new Set([...deliveries.values()].map((d) => d.type));
    for (const type of ['session.upstream_down', 'session.upstream_restored', 'model.disconnected']) assert.ok(types.has(type), `a ${type} delivery`);
    console.log(JSON.stringify({ logged: events.length, lifecycle: lifecycleBeforeStop.size, requests: receiver.requests.length, refused, heldAtKill, unrecorded }));
    assert.ok(events.length >= 150, `a real stream was logged (${events.length} events)`);
  });

  it('delivers everything once a receiver that refused connections listens, each attempt log showing the refusals then the 200', { timeout: 60_000 }, async () => {
    const USER_ID = '525252';
    const SCHEDULE = [100, 200, 400, 800, 1000, 1000, 1000, 1000, 1000, 1000];
    const port = await freePort();
    const setup = await prepare(USER_ID, `http://127.0.0.1:${port}/hooks`, SCHEDULE.map((ms) => `${ms}ms`).join(','));
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
    const deliveryTypes = async (): Promise<WebhookDelivery[]> => [...(await allDeliveries(store, endpoint.id)).values()];
    await pollUntil(async () => (await deliveryTypes()).filter((d) => d.type === 'onlyfans.api2_chat_message').length === N, 10_000, 'the events enqueued');
    // A lifecycle event too: the operator disconnects the model from another process.
    await store.setModelStatus(modelId, 'disconnected');
    // Down until every delivery was refused twice.
    await pollUntil(
      async () => {
        const all = await deliveryTypes();
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

    const log = new SqliteEventLog({ path: setup.logFile });
    let entries;
    try {
      entries = await readWholeLog(log, modelId);
    } finally {
      await log.close();
    }
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
});
