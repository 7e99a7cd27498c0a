/**
 * Session mode on one node (sessions-contract.md §1–§3): one OnlyFans socket per model whatever
 * the clients, every event to every client once and in order, raw format byte for byte, the
 * envelope format with ids, resume with since, status frames, the allow-list, get_onlines
 * routed to the asker only, limits, and the mode switched back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { Gateway } from '../../src/gateway/server.js';
import { createLogger } from '../../src/log.js';
import { LogCapture, MODEL_USER_ID, startStack, TestClient, waitFor, type Stack } from '../helpers.js';

function open(stack: Stack, query = ''): TestClient {
  return new TestClient(stack.relayUrl(stack.modelId, query), { headers: { 'X-API-Key': stack.apiKey } });
}

describe('session mode', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      config: { sessionReconnectMinMs: 50, sessionReconnectMaxMs: 200, nodeTtlMs: 2000, maxSessionClientsPerModel: 6, sessionRequestTimeoutMs: 1500 },
    });
    await stack.store.updateModel(stack.modelId, { delivery: 'session' });
    await waitFor(() => stack.sim.currentConnections(MODEL_USER_ID) === 1, 5000, 'the session socket');
  });
  after(async () => {
    await stack.close();
  });

  it('holds one OnlyFans socket with no client attached, and still one with several', async () => {
    stack.sim.resetPeaks();
    const clients = [open(stack), open(stack), open(stack)];
    for (const c of clients) assert.deepEqual(await c.confirmed(), { connected: true, modelId: stack.modelId });
    stack.sim.push(MODEL_USER_ID, '{"api2_chat_message":{"id":7,"text":"héllo"}}');
    stack.sim.push(MODEL_USER_ID, Buffer.from([1, 2, 3, 0xff]), { binary: true });
    for (const c of clients) {
      const f1 = await c.next();
      assert.equal(f1.isBinary, false);
      assert.equal(f1.text, '{"api2_chat_message":{"id":7,"text":"héllo"}}');
      const f2 = await c.next();
      assert.equal(f2.isBinary, true);
      assert.ok(f2.data.equals(Buffer.from([1, 2, 3, 0xff])));
    }
    assert.equal(stack.sim.peakConnections(MODEL_USER_ID), 1);
    for (const c of clients) c.socket.close();
    await Promise.all(clients.map((c) => c.closed));
    assert.equal(stack.sim.currentConnections(MODEL_USER_ID), 1, 'the session outlives its clients');
  });

  it('envelope format: ids, event keys, and resume from since with nothing lost or doubled', async () => {
    const first = open(stack, '?format=envelope');
    const confirmation = await first.confirmed();
    assert.equal(confirmation.format, 'envelope');
    assert.equal(confirmation.resumed, false);
    stack.sim.push(MODEL_USER_ID, '{"api2_chat_message":{"id":1}}');
    const e1 = (await first.next()).json();
    assert.equal(e1.type, 'event');
    assert.equal(e1.event, 'api2_chat_message');
    assert.deepEqual(e1.data, { api2_chat_message: { id: 1 } });
    assert.match(String(e1.id), /^\d+-\d+$/);
    first.socket.close();
    await first.closed;

    for (let i = 2; i <= 6; i++) stack.sim.push(MODEL_USER_ID, `{"api2_chat_message":{"id":${i}}}`);
    await waitFor(() => stack.sim.received.length >= 0, 100);
    // Let the session log them before resuming (they may also arrive live: either way once).
    const resumed = open(stack, `?format=envelope&since=${String(e1.id)}`);
    const c2 = await resumed.confirmed();
    assert.equal(c2.resumed, true);
    const ids: number[] = [];
    const eventIds: string[] = [];
    while (ids.length < 5) {
      const f = (await resumed.next()).json();
      if (f.type !== 'event') continue;
      ids.push((f.data as { api2_chat_message: { id: number } }).api2_chat_message.id);
      eventIds.push(String(f.id));
    }
    assert.deepEqual(ids, [2, 3, 4, 5, 6]);
    assert.equal(new Set(eventIds).size, 5);
    resumed.socket.close();
    await resumed.closed;
  });

  it('an unknown or malformed since gets a gap from the oldest logged event, never a silent restart', async () => {
    const c = open(stack, '?format=envelope&since=nonsense');
    const conf = await c.confirmed();
    assert.equal(conf.resumed, false);
    const gap = (await c.next()).json();
    assert.equal(gap.type, 'gap');
    assert.equal(gap.modelId, stack.modelId);
    assert.equal(typeof gap.before, 'string');
    // The oldest logged entry may be a status (the session's first `connected`), which has no id.
    let first = (await c.next()).json();
    while (first.type === 'status') first = (await c.next()).json();
    assert.equal(first.type, 'event');
    assert.ok(String(first.id) >= String(gap.before));
    c.socket.close();
    await c.closed;
  });

  it('refuses a malformed format or since with BAD_REQUEST (4400)', async () => {
    const c = open(stack, '?format=xml');
    const frame = (await c.next()).json();
    assert.equal(frame.code, 'BAD_REQUEST');
    assert.match(String(frame.error), /format/);
    assert.equal((await c.closed).code, 4400);
  });

  it('sends only allow-listed acts up the shared socket; others get ACTION_NOT_ALLOWED and the socket stays open', async () => {
    const c = open(stack);
    await c.confirmed();
    const before = stack.sim.received.length;
    c.socket.send('{"act":"connect","token":"x"}');
    const refused = (await c.next()).json();
    assert.equal(refused.code, 'ACTION_NOT_ALLOWED');
    c.socket.send('not json');
    assert.equal((await c.next()).json().code, 'ACTION_NOT_ALLOWED');
    c.socket.send('{"act":"typing","typing_to":5}');
    await waitFor(() => stack.sim.received.slice(before).some((r) => r.data.toString().includes('"typing_to":5')), 5000, 'typing upstream');
    assert.ok(!stack.sim.received.slice(before).some((r) => r.data.toString().includes('"token":"x"')), 'connect never goes up');
    assert.equal(c.socket.readyState, c.socket.OPEN);
    c.socket.close();
    await c.closed;
  });

  it("routes each get_onlines reply to the client that asked, and to no other", async () => {
    stack.sim.setOnline(['111']);
    const asker = open(stack, '?format=envelope');
    const bystander = open(stack);
    await asker.confirmed();
    await bystander.confirmed();
    asker.socket.send(JSON.stringify({ type: 'send', requestId: 'r1', data: { act: 'get_onlines', ids: ['111', '222'] } }));
    const reply = (await asker.next()).json();
    assert.equal(reply.type, 'reply');
    assert.equal(reply.requestId, 'r1');
    assert.deepEqual(reply.data, { online: ['111'] });
    // The bystander gets the next event, not the reply.
    stack.sim.push(MODEL_USER_ID, '{"typing":{"id":9}}');
    assert.equal((await bystander.next()).text, '{"typing":{"id":9}}');
    asker.socket.close();
    bystander.socket.close();
    await Promise.all([asker.closed, bystander.closed]);
  });

  it('tells envelope clients the upstream is reconnecting, then connected, and goes on with the events', async () => {
    const c = open(stack, '?format=envelope');
    await c.confirmed();
    stack.sim.dropConnections(MODEL_USER_ID, 'reset');
    const s1 = (await c.next()).json();
    assert.equal(s1.type, 'status');
    assert.equal(s1.upstream, 'reconnecting');
    const s2 = (await c.next(10000)).json();
    assert.equal(s2.type, 'status');
    assert.equal(s2.upstream, 'connected');
    await waitFor(() => stack.sim.currentConnections(MODEL_USER_ID) === 1, 5000, 'the session socket back');
    stack.sim.push(MODEL_USER_ID, '{"api2_chat_message":{"id":99}}');
    const e = (await c.next()).json();
    assert.equal(e.type, 'event');
    c.socket.close();
    await c.closed;
  });

  it('a second gateway on the same store without Redis serves relays but leaves sessions to the first (1011, and says why)', async () => {
    const logs = new LogCapture();
    const second = new Gateway({ config: loadConfig({ ...stack.config, port: 0 }), store: stack.store, logger: createLogger('info', logs) });
    const { port } = await second.listen();
    try {
      assert.match(logs.lines.join('\n'), /the event log is held by another gateway: session mode needs redis/);
      const c = new TestClient(`ws://127.0.0.1:${port}/api/models/${stack.modelId}/ws`, { headers: { 'X-API-Key': stack.apiKey } });
      const closed = await c.closed;
      assert.equal(closed.code, 1011);
      assert.match(closed.reason, /needs redis/);
      assert.equal(stack.sim.currentConnections(MODEL_USER_ID), 1, 'still the first gateway\'s one socket');
    } finally {
      await second.close();
    }
  });

  it('switching the mode either way never has OnlyFans see two sockets for the model', async () => {
    await waitFor(() => stack.gateway.registry.all.size === 0, 5000, 'earlier clients gone');
    stack.sim.resetPeaks();
    const c = open(stack);
    await c.confirmed();
    const switchedAt = Date.now();
    await stack.store.updateModel(stack.modelId, { delivery: 'relay' });
    assert.equal((await c.closed).code, 1012);
    assert.ok(Date.now() - switchedAt < 1000, `the change reached the running gateway in ${Date.now() - switchedAt} ms`);
    // Reconnects at once, as the SDK would: the relay waits for the session's socket to close.
    const r = open(stack);
    await r.confirmed();
    assert.equal(stack.sim.currentConnections(MODEL_USER_ID), 1);
    assert.equal(stack.sim.peakConnections(MODEL_USER_ID), 1, 'relay → session: one socket at every moment');

    stack.sim.resetPeaks();
    await stack.store.updateModel(stack.modelId, { delivery: 'session' });
    assert.equal((await r.closed).code, 1012);
    await waitFor(() => stack.gateway.sessionStats().byState.connected === 1, 5000, 'the session up again');
    assert.equal(stack.sim.currentConnections(MODEL_USER_ID), 1);
    assert.equal(stack.sim.peakConnections(MODEL_USER_ID), 1, 'session → relay: one socket at every moment');
  });

  it('tells a client its frame was not sent while the upstream reconnects (REQUEST_FAILED), and keeps it open', async () => {
    const c = open(stack, '?format=envelope');
    await c.confirmed();
    stack.sim.setFault({ kind: 'refuse' });
    stack.sim.dropConnections(MODEL_USER_ID, 'reset');
    let f = (await c.next()).json();
    assert.equal(f.upstream, 'reconnecting');
    c.socket.send(JSON.stringify({ type: 'send', requestId: 't1', data: { act: 'typing', typing_to: 1 } }));
    f = (await c.next()).json();
    while (f.type === 'status') f = (await c.next()).json();
    assert.equal(f.type, 'reply');
    assert.equal(f.requestId, 't1');
    assert.equal(f.code, 'REQUEST_FAILED');
    assert.equal(c.socket.readyState, c.socket.OPEN);
    stack.sim.clearFaults();
    await waitFor(() => stack.gateway.sessionStats().byState.connected === 1 && stack.sim.currentConnections(MODEL_USER_ID) === 1, 10000, 'the session back');
    c.socket.close();
    await c.closed;
  });

  it('caps the clients attached to one model (maxSessionClientsPerModel) with CONNECTION_LIMIT', async () => {
    await waitFor(() => stack.gateway.registry.all.size === 0, 5000, 'earlier clients gone');
    const clients = Array.from({ length: 6 }, () => open(stack));
    for (const c of clients) await c.confirmed();
    const extra = open(stack);
    const refusal = (await extra.next()).json();
    assert.equal(refusal.code, 'CONNECTION_LIMIT');
    assert.equal((await extra.closed).code, 4429);
    for (const c of clients) c.socket.close();
    await Promise.all(clients.map((c) => c.closed));
  });

  it('switching back to relay ends the session and closes its clients with 1012; disconnecting closes them 4409', async () => {
    const c = open(stack);
    await c.confirmed();
    await stack.store.updateModel(stack.modelId, { delivery: 'relay' });
    const closed = await c.closed;
    assert.equal(closed.code, 1012);
    await waitFor(() => stack.sim.currentConnections(MODEL_USER_ID) === 0, 5000, 'the session socket closed');

    await stack.store.updateModel(stack.modelId, { delivery: 'session' });
    await waitFor(() => stack.sim.currentConnections(MODEL_USER_ID) === 1, 5000, 'the session socket again');
    const d = open(stack);
    await d.confirmed();
    await stack.store.setModelStatus(stack.modelId, 'disconnected');
    const frame = (await d.next()).json();
    assert.equal(frame.code, 'MODEL_NOT_CONNECTED');
    assert.equal((await d.closed).code, 4409);
    await waitFor(() => stack.sim.currentConnections(MODEL_USER_ID) === 0, 5000, 'no session for a disconnected model');
  });
});

describe('session feed bookkeeping', () => {
  it('a client that leaves while its feed is still attaching is not kept (the feed empties)', async () => {
    const { MemoryEventLog } = await import('../../src/sessions/event-log-memory.js');
    const { ModelFeed } = await import('../../src/delivery/model-feed.js');
    const log = new MemoryEventLog();
    let emptied = 0;
    const feed = new ModelFeed('m1', log, () => emptied++);
    const client = { deliver() {}, gap() {}, backedUp: false, failed() {} };
    let confirmed = false;
    const attaching = feed.attach(client, undefined, () => (confirmed = true));
    feed.detach(client); // before lastId() resolved
    await attaching;
    assert.equal(confirmed, false, 'a cancelled attach is not confirmed');
    assert.equal(feed.size, 0);
    assert.equal(emptied, 1, 'the feed emptied (its follower is gone)');
    await log.close();
  });
});
