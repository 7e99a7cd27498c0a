/**
 * Server-sent events (sessions-contract.md §5) over node:http against the real gateway and
 * simulator: `ready` first, events with their log ids and OnlyFans names, status and gap,
 * resume from Last-Event-ID and from since, the heartbeat comment, every refusal with its HTTP
 * status and JSON body, and the stream ended by revocation, model disconnect, an operator,
 * a slow reader and shutdown.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MODEL_USER_ID, socketConnections, startStack, TestClient, waitFor, type Stack } from '../helpers.js';
import { SseTestClient } from './sse-client.js';

function sseUrl(stack: Stack, query = '', modelId = stack.modelId): string {
  return `http://127.0.0.1:${stack.gateway.address().port}/api/models/${modelId}/events${query}`;
}

async function openSse(stack: Stack, query = '', headers: Record<string, string> = { 'x-api-key': stack.apiKey }, modelId = stack.modelId): Promise<SseTestClient> {
  return SseTestClient.open(sseUrl(stack, query, modelId), headers);
}

/** Opens a stream and reads its `ready` event. */
async function ready(stack: Stack, query = '', headers?: Record<string, string>): Promise<{ client: SseTestClient; ready: Record<string, unknown> }> {
  const client = await openSse(stack, query, headers);
  assert.equal(client.status, 200, `status ${client.status}: ${JSON.stringify(client.body)}`);
  const first = await client.next();
  assert.equal(first.event, 'ready');
  return { client, ready: first.json() };
}

const sessionConfig = { sessionReconnectMinMs: 50, sessionReconnectMaxMs: 200, nodeTtlMs: 2000, sseHeartbeatMs: 100, maxSessionClientsPerModel: 4, slowConsumerTimeoutMs: 500 };

async function sessionStack(): Promise<Stack> {
  const stack = await startStack({ config: sessionConfig });
  await stack.store.updateModel(stack.modelId, { delivery: 'session' });
  await waitFor(() => stack.sim.currentConnections(MODEL_USER_ID) === 1, 5000, 'the session socket');
  return stack;
}

describe('server-sent events', () => {
  let stack: Stack;
  before(async () => {
    stack = await sessionStack();
  });
  after(async () => {
    await stack.close();
  });

  it('sends ready first, then each event with its log id and its OnlyFans key as the name', async () => {
    const { client, ready: r } = await ready(stack);
    assert.equal(client.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(client.headers['cache-control'], 'no-cache, no-transform');
    assert.equal(client.headers['access-control-allow-origin'], '*');
    assert.equal(r.modelId, stack.modelId);
    assert.equal(typeof r.lastEventId, 'string', 'the session logged its connected status first');
    assert.equal(r.resumed, false);
    stack.sim.push(MODEL_USER_ID, '{"api2_chat_message":{"id":1,"text":"héllo"}}');
    stack.sim.push(MODEL_USER_ID, '{\n  "typing": {\n    "id": 2\n  }\n}');
    stack.sim.push(MODEL_USER_ID, Buffer.from([1, 2, 0xff]), { binary: true });
    stack.sim.push(MODEL_USER_ID, 'not json');
    stack.sim.push(MODEL_USER_ID, '{"status":"a key spelled like the gateway\'s own event"}');
    const e1 = await client.nextEvent();
    assert.equal(e1.event, 'api2_chat_message');
    assert.deepEqual(e1.json(), { api2_chat_message: { id: 1, text: 'héllo' } });
    assert.match(String(e1.id), /^\d+-\d+$/);
    const e2 = await client.nextEvent();
    assert.equal(e2.event, 'typing', 'a frame with line breaks is one event over several data lines');
    assert.deepEqual(e2.json(), { typing: { id: 2 } });
    const e3 = await client.nextEvent();
    assert.equal(e3.event, 'base64');
    assert.deepEqual([...Buffer.from(e3.data, 'base64')], [1, 2, 0xff]);
    const e4 = await client.nextEvent();
    assert.equal(e4.event, 'base64');
    assert.equal(Buffer.from(e4.data, 'base64').toString(), 'not json');
    const e5 = await client.nextEvent();
    assert.equal(e5.event, 'message', 'never taken for the gateway\'s own status event');
    assert.deepEqual(e5.json(), { status: "a key spelled like the gateway's own event" });
    const ids = [e1, e2, e3, e4, e5].map((e) => String(e.id));
    assert.equal(new Set(ids).size, 5);
    assert.ok(stack.gateway.sessionStats().clients >= 1, 'the stream counts as a session client');
    client.close();
    await client.closed();
  });

  it('event_names=message names every OnlyFans event `message` (one onmessage hears them all)', async () => {
    const { client } = await ready(stack, '?event_names=message');
    stack.sim.push(MODEL_USER_ID, '{"some_future_key":{"id":3}}');
    const e = await client.nextEvent();
    assert.equal(e.event, 'message');
    assert.deepEqual(e.json(), { some_future_key: { id: 3 } });
    client.close();
  });

  it('sends a comment line as heartbeat every sseHeartbeatMs', async () => {
    const { client } = await ready(stack);
    await waitFor(() => client.comments.length >= 3, 5000, 'three heartbeats');
    assert.deepEqual(client.comments.slice(0, 3), ['heartbeat', 'heartbeat', 'heartbeat']);
    client.close();
  });

  it('tells the upstream reconnecting, then connected, as status events with ids, and goes on', async () => {
    const { client } = await ready(stack);
    stack.sim.dropConnections(MODEL_USER_ID, 'reset');
    const s1 = await client.next();
    assert.equal(s1.event, 'status');
    assert.equal(s1.json().upstream, 'reconnecting');
    assert.equal(s1.json().modelId, stack.modelId);
    assert.match(String(s1.id), /^\d+-\d+$/);
    const s2 = await client.next(10_000);
    assert.equal(s2.event, 'status');
    assert.equal(s2.json().upstream, 'connected');
    await waitFor(() => stack.sim.currentConnections(MODEL_USER_ID) === 1, 5000, 'the session socket back');
    stack.sim.push(MODEL_USER_ID, '{"api2_chat_message":{"id":10}}');
    assert.equal((await client.next()).event, 'api2_chat_message');
    client.close();
  });

  it('resumes from Last-Event-ID (which wins over since) and from since: nothing lost, nothing twice', async () => {
    const { client } = await ready(stack);
    stack.sim.push(MODEL_USER_ID, '{"api2_chat_message":{"id":100}}');
    const first = await client.nextEvent();
    client.close();
    await client.closed();
    for (let i = 101; i <= 105; i++) stack.sim.push(MODEL_USER_ID, `{"api2_chat_message":{"id":${i}}}`);
    const ids = async (c: SseTestClient, n: number): Promise<number[]> => {
      const got: number[] = [];
      while (got.length < n) got.push(((await c.nextEvent()).json().api2_chat_message as { id: number }).id);
      return got;
    };
    // A browser reconnecting sends Last-Event-ID with the URL it first opened, since and all.
    const byHeader = await ready(stack, '?since=nonsense', { 'x-api-key': stack.apiKey, 'last-event-id': String(first.id) });
    assert.equal(byHeader.ready.resumed, true);
    assert.deepEqual(await ids(byHeader.client, 5), [101, 102, 103, 104, 105]);
    byHeader.client.close();
    const bySince = await ready(stack, `?since=${String(first.id)}`);
    assert.equal(bySince.ready.resumed, true);
    assert.deepEqual(await ids(bySince.client, 5), [101, 102, 103, 104, 105]);
    stack.sim.push(MODEL_USER_ID, '{"api2_chat_message":{"id":106}}');
    assert.deepEqual(await ids(bySince.client, 1), [106], 'then the live tail, with nothing twice');
    bySince.client.close();
  });

  it('ready carries the starting id, so a reconnect before any event resumes from there', async () => {
    const { client, ready: r } = await ready(stack);
    const start = client.events[0]?.id;
    assert.equal(start, r.lastEventId);
    client.close();
    await client.closed();
    stack.sim.push(MODEL_USER_ID, '{"api2_chat_message":{"id":200}}');
    const again = await ready(stack, '', { 'x-api-key': stack.apiKey, 'last-event-id': String(start) });
    assert.deepEqual((await again.client.nextEvent()).json(), { api2_chat_message: { id: 200 } });
    again.client.close();
  });

  it('an unknown since gets a gap from the oldest logged entry, never a silent restart', async () => {
    const { client, ready: r } = await ready(stack, '?since=nonsense');
    assert.equal(r.resumed, false);
    const gap = await client.next();
    assert.equal(gap.event, 'gap');
    assert.equal(gap.json().type, 'gap');
    assert.equal(gap.json().modelId, stack.modelId);
    assert.equal(typeof gap.json().before, 'string');
    const firstAfter = await client.next();
    assert.equal(firstAfter.id, gap.json().before);
    client.close();
  });

  it('refuses with the catalog\'s HTTP status and a JSON {error, code}', async () => {
    const refusals: { query?: string; headers?: Record<string, string>; modelId?: string; status: number; code: string; error?: RegExp }[] = [
      { headers: {}, status: 401, code: 'NO_API_KEY' },
      { headers: { 'x-api-key': 'ofgw_sk_wrong' }, status: 401, code: 'INVALID_API_KEY' },
      { modelId: '00000000-0000-4000-8000-000000000000', status: 404, code: 'MODEL_NOT_FOUND' },
      { modelId: 'not-a-uuid', status: 404, code: 'MODEL_NOT_FOUND' },
      { query: '?event_names=xml', status: 400, code: 'BAD_REQUEST', error: /event_names/ },
      { query: `?since=${'1'.repeat(80)}`, status: 400, code: 'BAD_REQUEST', error: /since/ },
      { headers: { 'x-api-key': stack.apiKey, 'last-event-id': '9'.repeat(80) }, status: 400, code: 'BAD_REQUEST', error: /Last-Event-ID/ },
    ];
    for (const r of refusals) {
      const c = await openSse(stack, r.query, r.headers ?? { 'x-api-key': stack.apiKey }, r.modelId);
      await c.closed();
      assert.equal(c.status, r.status, r.code);
      assert.equal(c.body?.code, r.code);
      assert.equal(typeof c.body?.error, 'string');
      if (r.error) assert.match(String(c.body?.error), r.error);
      assert.equal(c.headers['access-control-allow-origin'], '*', 'a page on another origin can read why');
    }
    // The key in ?api_key= works as the header does (an EventSource cannot set headers).
    const byQuery = await ready(stack, `?api_key=${encodeURIComponent(stack.apiKey)}`, {});
    byQuery.client.close();
    assert.ok(!stack.logs.lines.join('\n').includes(stack.apiKey), 'the key is never logged');
    assert.ok(!stack.logs.lines.join('\n').includes('ofgw_sk_wrong'));
  });

  it('refuses a model without an active subscription (402) and over the model\'s client limit (429)', async () => {
    await stack.store.setSubscription(stack.orgId, { status: 'canceled', plan: 'pro' });
    try {
      const c = await openSse(stack);
      await c.closed();
      assert.equal(c.status, 402);
      assert.equal(c.body?.code, 'NO_SUBSCRIPTION');
    } finally {
      await stack.store.setSubscription(stack.orgId, { status: 'active', plan: 'pro' });
    }
    await waitFor(() => stack.gateway.registry.all.size === 0, 5000, 'earlier streams gone');
    // A WebSocket client and SSE streams count together against maxSessionClientsPerModel (4).
    const ws = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': stack.apiKey } });
    await ws.confirmed();
    const streams = [await ready(stack), await ready(stack), await ready(stack)];
    const over = await openSse(stack);
    await over.closed();
    assert.equal(over.status, 429);
    assert.equal(over.body?.code, 'CONNECTION_LIMIT');
    for (const s of streams) s.client.close();
    ws.socket.close();
    await ws.closed;
  });

  it('answers a CORS preflight, and 405 for methods other than GET', async () => {
    const pre = await SseTestClient.open(sseUrl(stack), { origin: 'http://page.example', 'access-control-request-headers': 'last-event-id' }, 'OPTIONS');
    await pre.closed();
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], '*');
    assert.match(String(pre.headers['access-control-allow-headers']), /last-event-id/);
    const post = await SseTestClient.open(sseUrl(stack), { 'x-api-key': stack.apiKey }, 'POST');
    await post.closed();
    assert.equal(post.status, 405);
    assert.equal(post.body?.code, 'METHOD_NOT_ALLOWED');
    assert.equal(post.headers.allow, 'GET, OPTIONS');
  });

  it('a relay-mode model is refused with 409 MODEL_NOT_CONNECTED saying SSE needs session mode; switching back ends a stream', async () => {
    const { client } = await ready(stack);
    await stack.store.updateModel(stack.modelId, { delivery: 'relay' });
    try {
      await client.closed();
      const c = await openSse(stack);
      await c.closed();
      assert.equal(c.status, 409);
      assert.equal(c.body?.code, 'MODEL_NOT_CONNECTED');
      assert.match(String(c.body?.error), /session mode/);
    } finally {
      await stack.store.updateModel(stack.modelId, { delivery: 'session' });
      await waitFor(() => stack.gateway.sessionStats().byState.connected === 1, 5000, 'the session up again');
    }
  });

  it('revoking the key ends the stream with an `end` event naming INVALID_API_KEY; a reconnect gets 401', async () => {
    const key = await stack.store.createApiKey(stack.orgId, { name: 'to revoke' });
    const { client } = await ready(stack, '', { 'x-api-key': key.key });
    await stack.store.revokeApiKey(key.id);
    let end = await client.next();
    while (end.event !== 'end') end = await client.next();
    assert.equal(end.json().code, 'INVALID_API_KEY');
    assert.match(String(end.json().error), /revoked/);
    await client.closed();
    const again = await openSse(stack, '', { 'x-api-key': key.key });
    await again.closed();
    assert.equal(again.status, 401);
  });

  it('disconnecting the model ends the stream with MODEL_NOT_CONNECTED', async () => {
    const { client } = await ready(stack);
    await stack.store.setModelStatus(stack.modelId, 'disconnected');
    try {
      let end = await client.next();
      while (end.event !== 'end') end = await client.next();
      assert.equal(end.json().code, 'MODEL_NOT_CONNECTED');
      await client.closed();
    } finally {
      await stack.store.setModelStatus(stack.modelId, 'connected');
      await waitFor(() => stack.gateway.sessionStats().byState.connected === 1, 5000, 'the session up again');
    }
  });

  it('is listed as a relay, and an operator can close it', async () => {
    const { client } = await ready(stack);
    const { relays } = await stack.gateway.listRelays({ modelId: stack.modelId });
    const listed = relays.filter((r) => r.state === 'open');
    assert.equal(listed.length, 1);
    assert.equal(socketConnections(stack.gateway).length, 0, 'it is no WebSocket');
    await stack.gateway.closeRelay(listed[0]!.id);
    await client.closed();
    await waitFor(() => stack.gateway.registry.all.size === 0, 5000, 'the stream to leave the registry');
  });

  it('a reader that stops reading is given nothing more (memory bounded) and is ended after slowConsumerTimeoutMs', async () => {
    const { client } = await ready(stack);
    (client.res.socket as Socket).pause();
    const stream = [...stack.gateway.registry.all][0] as unknown as { res: { writableLength: number }; outcome: string };
    const chunk = 'x'.repeat(64 * 1024);
    let maxBuffered = 0;
    for (let i = 0; i < 400 && stream.outcome === 'ok'; i++) {
      stack.sim.push(MODEL_USER_ID, `{"api2_chat_message":{"id":${i},"text":"${chunk}"}}`);
      if (i % 20 === 19) {
        await new Promise((r) => setTimeout(r, 5));
        maxBuffered = Math.max(maxBuffered, stream.res.writableLength);
      }
    }
    await waitFor(() => stream.outcome === 'SLOW_CONSUMER', 10_000, 'the slow reader to be ended');
    assert.ok(maxBuffered < 2 * 1024 * 1024, `the gateway buffered at most ${maxBuffered} bytes for it`);
    client.close();
    await waitFor(() => stack.gateway.registry.all.size === 0, 5000, 'the stream to leave the registry');
  });
});

describe('server-sent events and shutdown', () => {
  it('graceful shutdown ends every stream, and close() does not wait for them to time out', async () => {
    const stack = await sessionStack();
    try {
      const a = await ready(stack);
      const b = await ready(stack);
      const started = Date.now();
      await stack.gateway.close();
      await Promise.all([a.client.closed(), b.client.closed()]);
      assert.ok(Date.now() - started < stack.config.shutdownTimeoutMs, `closed in ${Date.now() - started} ms`);
      assert.equal(stack.gateway.registry.all.size, 0);
    } finally {
      await stack.close();
    }
  });
});
