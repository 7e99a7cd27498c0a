/**
 * GET /admin/v1/overview on one node, over real sockets: relays and session clients open, events
 * pushed through the simulator, refused and failed attempts, a session's socket dropped — and the
 * answer shows each of them in its series (checked strictly against the documented schema), with
 * the session model's state now and no webhook delivery invented.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createAdminRoutes } from '../../src/admin/index.js';
import { overviewSchema } from '../../src/admin/schemas.js';
import { MODEL_USER_ID, startStack, TestClient, waitFor, type Stack } from '../helpers.js';
import { ADMIN_TOKEN, request } from './admin-helpers.js';

type Overview = ReturnType<typeof overviewSchema.parse>;
const RELAY_USER_ID = 515151;

/** A port nothing listens on (it was just closed). */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('GET /admin/v1/overview', () => {
  let stack: Stack;
  let overviewUrl = '';
  const clients: TestClient[] = [];

  const overview = async (): Promise<Overview> => {
    const answer = await request(overviewUrl, 'GET', undefined, { authorization: `Bearer ${ADMIN_TOKEN}` });
    assert.equal(answer.status, 200, answer.text);
    return overviewSchema.parse(answer.json());
  };
  /** Asks until `check` holds (each answer is a new sample at most 100 ms later), bounded. */
  const overviewUntil = async (check: (o: Overview) => boolean, what: string): Promise<Overview> => {
    const deadline = Date.now() + 10_000;
    let last = await overview();
    while (!check(last)) {
      if (Date.now() > deadline) throw new Error(`the overview never showed ${what}: ${JSON.stringify({ totals: last.totals, latest: last.series.at(-1), sessionModels: last.sessionModels })}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      last = await overview();
    }
    return last;
  };
  const open = (modelId: string, key = stack.apiKey): TestClient => {
    const c = new TestClient(stack.relayUrl(modelId), { headers: { 'X-API-Key': key } });
    clients.push(c);
    return c;
  };

  before(async () => {
    stack = await startStack({
      config: { overviewSampleMs: 100, adminToken: ADMIN_TOKEN, sessionReconnectMinMs: 50, sessionReconnectMaxMs: 200, nodeTtlMs: 2000 },
      routes: (gw, logger) => [createAdminRoutes(gw, { adminToken: ADMIN_TOKEN, logger })],
    });
    overviewUrl = `http://127.0.0.1:${stack.gateway.address().port}/admin/v1/overview`;
  });
  after(async () => {
    for (const c of clients) c.socket.terminate();
    await stack.close();
  });

  it('starts empty-handed: no connection, no event, no webhook delivery, the session models listed', async () => {
    const first = await overview();
    assert.equal(first.intervalMs, 100);
    assert.deepEqual(first.nodes, [stack.gateway.nodeId]);
    assert.deepEqual(first.missingNodes, []);
    assert.deepEqual(first.totals.webhooks, { delivered: 0, retrying: 0, failed: 0 });
    assert.equal(first.totals.events, 0);
    assert.deepEqual(first.sessionModels, [], 'no model is in session mode yet');
  });

  it('shows relays, session clients, events, outcomes, upstream failures and reconnects as they happen', async () => {
    await stack.store.updateModel(stack.modelId, { delivery: 'session' });
    await waitFor(() => stack.sim.currentConnections(MODEL_USER_ID) === 1, 5000, 'the session socket');
    const relayModel = await stack.store.createModel(stack.orgId, { name: 'Relay model', wsUrl: stack.sim.wsUrl(24), wsToken: stack.sim.issueToken({ userId: RELAY_USER_ID }) });
    const deadModel = await stack.store.createModel(stack.orgId, { name: 'Unreachable', wsUrl: `ws://127.0.0.1:${await deadPort()}/`, wsToken: stack.sim.issueToken({ userId: 1 }) });

    const sessionClients = [open(stack.modelId), open(stack.modelId), open(stack.modelId)];
    const relays = [open(relayModel.id), open(relayModel.id)];
    for (const c of [...sessionClients, ...relays]) assert.equal((await c.confirmed()).connected, true);
    const refused = open(relayModel.id, `${stack.apiKey.slice(0, -1)}${stack.apiKey.endsWith('x') ? 'y' : 'x'}`);
    assert.equal((await refused.next()).json().code, 'INVALID_API_KEY');
    const failed = open(deadModel.id);
    assert.equal((await failed.next(10_000)).json().code, 'WS_CONNECT_ERROR');
    for (let i = 0; i < 5; i++) stack.sim.push(MODEL_USER_ID, { api2_chat_message: { id: i } });
    for (const c of sessionClients) for (let i = 0; i < 5; i++) await c.next();

    const seen = await overviewUntil((o) => {
      const latest = o.series.at(-1);
      return latest?.relays === 2 && latest.sessionClients === 3 && o.totals.events >= 5 && (o.totals.attempts.INVALID_API_KEY ?? 0) >= 1 && o.totals.upstreamFailures >= 1;
    }, 'the connections, events and attempts');
    assert.ok(seen.series.some((s) => s.eventsPerMinute > 0), 'a non-zero events-per-minute point');
    for (const s of seen.series) assert.equal(s.eventsPerMinute, (s.events * 60_000) / 100);
    assert.equal(seen.totals.attempts.WS_CONNECT_ERROR, 1);
    assert.deepEqual(seen.totals.webhooks, { delivered: 0, retrying: 0, failed: 0 }, 'no webhook deliveries are made up');
    assert.deepEqual(seen.sessionModels, [
      { id: stack.modelId, orgId: stack.orgId, name: 'Model A', status: 'connected', upstream: 'connected', node: stack.gateway.nodeId, clients: 3 },
    ]);
    const times = seen.series.map((s) => Date.parse(s.at));
    for (let i = 1; i < times.length; i++) assert.ok((times[i] as number) > (times[i - 1] as number), 'oldest first');

    // The session's socket drops: a reconnect in the series; the clients' closes count as ok.
    stack.sim.dropConnections(MODEL_USER_ID);
    const after = await overviewUntil((o) => o.totals.sessionReconnects >= 1 && o.sessionModels[0]?.upstream === 'connected', 'the session reconnect');
    assert.ok(after.series.some((s) => s.sessionReconnects > 0));
    for (const c of relays) c.socket.close();
    await Promise.all(relays.map((c) => c.closed));
    await overviewUntil((o) => o.series.at(-1)?.relays === 0 && (o.totals.attempts.ok ?? 0) >= 2, 'the relays closed as ok');
  });

  it('shows a session model turned off as not running', async () => {
    await stack.store.setModelStatus(stack.modelId, 'disconnected');
    const seen = await overviewUntil((o) => o.sessionModels[0]?.upstream === 'not running', 'the session stopped');
    assert.deepEqual([seen.sessionModels[0]?.status, seen.sessionModels[0]?.node], ['disconnected', null]);
  });
});
