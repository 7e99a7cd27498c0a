/**
 * GET /metrics (issue 4 item 2): the exposition parses, counters follow a controlled relay
 * exactly, refusals and slow consumers are counted by outcome and close code, histograms
 * get one observation per confirmed relay, and no label names a key, organization or model.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MODEL_USER_ID, tamperedKey, TestClient, waitFor } from '../helpers.js';
import { parseExposition, startObservedStack, valueOf, type ObservedStack, type Sample } from './harness.js';

const KiB = 1024;

describe('metrics', () => {
  let stack: ObservedStack;
  before(async () => {
    stack = await startObservedStack({
      // Small watermarks so a slow consumer is reached quickly (as in backpressure.test.ts).
      config: { highWaterBytes: 64 * KiB, lowWaterBytes: 16 * KiB, hardCapBytes: 8 * 1024 * KiB, slowConsumerTimeoutMs: 400, closeTimeoutMs: 2000 },
      simulator: { invalidCommandCloseMs: false },
    });
  });
  after(async () => {
    await stack.close();
  });

  async function scrape(): Promise<Sample[]> {
    const res = await stack.request('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] ?? '', /^text\/plain; version=0\.0\.4/);
    return parseExposition(res.body).samples;
  }

  const idle = (): Promise<void> => waitFor(() => stack.gateway.registry.all.size === 0, 5000, 'no relay left');

  it('serves parseable text with the relay, event-loop and process metrics', async () => {
    const res = await stack.request('/metrics');
    const { samples, types } = parseExposition(res.body);
    assert.equal(types.get('ofgw_relays_active'), 'gauge');
    assert.equal(types.get('ofgw_relay_attempts_total'), 'counter');
    assert.equal(types.get('ofgw_relay_messages_total'), 'counter');
    assert.equal(types.get('ofgw_relay_bytes_total'), 'counter');
    assert.equal(types.get('ofgw_client_close_codes_total'), 'counter');
    assert.equal(types.get('ofgw_slow_consumer_closes_total'), 'counter');
    assert.equal(types.get('ofgw_relay_confirm_seconds'), 'histogram');
    assert.equal(types.get('ofgw_upstream_connect_seconds'), 'histogram');
    assert.equal(types.get('ofgw_event_loop_lag_seconds'), 'gauge');
    for (const state of ['open', 'connecting', 'closing']) assert.equal(valueOf(samples, 'ofgw_relays_active', { state }), 0);
    for (const direction of ['client_to_upstream', 'upstream_to_client']) {
      assert.equal(valueOf(samples, 'ofgw_relay_messages_total', { direction }), 0);
      assert.equal(valueOf(samples, 'ofgw_relay_bytes_total', { direction }), 0);
    }
    for (const stat of ['p50', 'p99', 'max']) {
      const lag = valueOf(samples, 'ofgw_event_loop_lag_seconds', { stat });
      assert.ok(lag !== undefined && lag >= 0 && lag < 10, `event-loop ${stat} = ${lag}`);
    }
    assert.equal(valueOf(samples, 'ofgw_relay_confirm_seconds_count'), 0);
    assert.ok(valueOf(samples, 'process_cpu_user_seconds_total') !== undefined, 'default process metrics');
    assert.ok(samples.some((s) => s.name === 'nodejs_heap_size_used_bytes'), 'default Node.js metrics');
  });

  it('a single node without redis has no ofgw_cluster_coordination_up series (it read 0, firing every alert on it)', async () => {
    const res = await stack.request('/metrics');
    const { samples, types } = parseExposition(res.body);
    assert.equal(types.get('ofgw_cluster_coordination_up'), undefined, 'no TYPE line');
    assert.equal(samples.some((s) => s.name === 'ofgw_cluster_coordination_up'), false, 'no sample');
  });

  it('HEAD answers without a body; other methods get 405', async () => {
    const head = await stack.request('/metrics', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    const post = await stack.request('/metrics', 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
  });

  it('counts a controlled relay exactly: messages and bytes by direction, live and after the close', async () => {
    const client = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': stack.apiKey } });
    await client.confirmed();
    let samples = await scrape();
    assert.equal(valueOf(samples, 'ofgw_relays_active', { state: 'open' }), 1);
    assert.equal(valueOf(samples, 'ofgw_relay_confirm_seconds_count'), 1);
    assert.equal(valueOf(samples, 'ofgw_upstream_connect_seconds_count'), 1);
    const confirm = valueOf(samples, 'ofgw_relay_confirm_seconds_sum') ?? -1;
    const upstream = valueOf(samples, 'ofgw_upstream_connect_seconds_sum') ?? -1;
    assert.ok(upstream >= 0 && upstream <= confirm && confirm < 5, `upstream ${upstream} s within confirm ${confirm} s`);

    const sent = ['{"act":"noop","n":1}', '{"act":"noop","n":22}', '{"act":"noop","n":333}'];
    const pushed = ['{"api2_chat_message":{"id":1}}', '{"new_message":{"id":2,"text":"hello"}}'];
    const receivedBefore = stack.sim.received.length;
    for (const m of sent) client.socket.send(m);
    await waitFor(() => stack.sim.received.length === receivedBefore + 3, 5000, 'three upstream messages');
    for (const p of pushed) assert.equal(stack.sim.push(MODEL_USER_ID, p), 1);
    for (const p of pushed) assert.equal((await client.next()).text, p);

    const expected = (): void => {
      assert.equal(valueOf(samples, 'ofgw_relay_messages_total', { direction: 'client_to_upstream' }), 3);
      assert.equal(valueOf(samples, 'ofgw_relay_messages_total', { direction: 'upstream_to_client' }), 2);
      assert.equal(valueOf(samples, 'ofgw_relay_bytes_total', { direction: 'client_to_upstream' }), byteSum(sent));
      assert.equal(valueOf(samples, 'ofgw_relay_bytes_total', { direction: 'upstream_to_client' }), byteSum(pushed));
    };
    samples = await scrape();
    expected(); // read from the live relay

    client.socket.close(1000);
    await client.closed;
    await idle();
    samples = await scrape();
    expected(); // now from the finished totals: nothing lost, nothing counted twice
    assert.equal(valueOf(samples, 'ofgw_relays_active', { state: 'open' }), 0);
    assert.equal(valueOf(samples, 'ofgw_relay_attempts_total', { outcome: 'ok' }), 1);
    assert.equal(valueOf(samples, 'ofgw_client_close_codes_total', { code: '1000' }), 1);
  });

  it('counts a refusal by outcome and close code, without a latency observation', async () => {
    const client = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': tamperedKey(stack.apiKey) } });
    assert.equal((await client.closed).code, 4401);
    await idle();
    const samples = await scrape();
    assert.equal(valueOf(samples, 'ofgw_relay_attempts_total', { outcome: 'INVALID_API_KEY' }), 1);
    assert.equal(valueOf(samples, 'ofgw_client_close_codes_total', { code: '4401' }), 1);
    assert.equal(valueOf(samples, 'ofgw_relay_confirm_seconds_count'), 1);
    assert.equal(valueOf(samples, 'ofgw_upstream_connect_seconds_count'), 1);
  });

  it('counts a slow-consumer close', async () => {
    const client = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': stack.apiKey } });
    await client.confirmed();
    const pair = [...stack.gateway.registry.all].find((p) => p.isOpen);
    assert.ok(pair);
    const tcp = (client.socket as unknown as { _socket: import('node:net').Socket })._socket;
    tcp.pause(); // stop reading: the gateway's writes back up
    const chunk = `{"api2_chat_message":{"text":"${'x'.repeat(16 * KiB)}"}}`;
    for (let i = 0; i < 2000 && pair.outcome === 'ok'; i++) {
      stack.sim.push(MODEL_USER_ID, chunk);
      if (i % 50 === 49) await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => pair.outcome === 'SLOW_CONSUMER', 5000, 'the slow-consumer verdict');
    tcp.resume();
    assert.equal((await client.closed).code, 4408);
    await idle();
    const samples = await scrape();
    assert.equal(valueOf(samples, 'ofgw_slow_consumer_closes_total'), 1);
    assert.equal(valueOf(samples, 'ofgw_relay_attempts_total', { outcome: 'SLOW_CONSUMER' }), 1);
    assert.equal(valueOf(samples, 'ofgw_client_close_codes_total', { code: '4408' }), 1);
    assert.equal(valueOf(samples, 'ofgw_relay_confirm_seconds_count'), 2, 'one observation per confirmed relay');
    assert.equal(valueOf(samples, 'ofgw_upstream_connect_seconds_count'), 2);
    // What reached the client leg is counted from the relay's own counters, once.
    assert.equal(valueOf(samples, 'ofgw_relay_messages_total', { direction: 'upstream_to_client' }), 2 + pair.traffic.messagesToClient);
    assert.equal(valueOf(samples, 'ofgw_relay_bytes_total', { direction: 'upstream_to_client' }), byteSum(['{"api2_chat_message":{"id":1}}', '{"new_message":{"id":2,"text":"hello"}}']) + pair.traffic.bytesToClient);
  });

  it('no label value names an organization, key or model, and every label set is bounded', async () => {
    const res = await stack.request('/metrics');
    for (const secretOrId of [stack.orgId, stack.keyId, stack.modelId, stack.apiKey, String(MODEL_USER_ID)]) {
      assert.ok(!res.body.includes(secretOrId), `the output mentions ${secretOrId}`);
    }
    const { samples } = parseExposition(res.body);
    const ours = samples.filter((s) => s.name.startsWith('ofgw_'));
    const allowed: Record<string, RegExp> = {
      state: /^(open|connecting|closing|connected|reconnecting|down)$/,
      unit: /^(entries|bytes)$/,
      direction: /^(client_to_upstream|upstream_to_client)$/,
      outcome: /^(ok|other|[A-Z_]+)$/,
      code: /^(1\d{3}|4\d{3}|other)$/,
      stat: /^(p50|p99|max)$/,
      timed_from: /^(upstream_read|log_append)$/,
      le: /^([0-9.]+|\+Inf)$/,
    };
    for (const s of ours) {
      for (const [name, value] of Object.entries(s.labels)) {
        assert.ok(allowed[name]?.test(value), `unexpected label ${name}="${value}" on ${s.name}`);
      }
    }
  });

  it('close() unsubscribes: later relays no longer move the per-relay counters', async () => {
    const before = valueOf((await scrape()), 'ofgw_relay_attempts_total', { outcome: 'NO_API_KEY' });
    assert.equal(before, undefined);
    stack.metrics.close();
    stack.metrics.close(); // idempotent
    const client = new TestClient(stack.relayUrl());
    assert.equal((await client.closed).code, 4401);
    await idle();
    assert.equal(valueOf(await scrape(), 'ofgw_relay_attempts_total', { outcome: 'NO_API_KEY' }), undefined);
  });
});

function byteSum(messages: string[]): number {
  return messages.reduce((n, m) => n + Buffer.byteLength(m), 0);
}

describe('session metrics', () => {
  let stack: ObservedStack;
  before(async () => {
    stack = await startObservedStack({ config: { sessionReconnectMinMs: 50, sessionReconnectMaxMs: 200 } });
  });
  after(async () => {
    await stack.close();
  });

  it('count sessions by state, attached clients, logged events, deliveries and the log size — with no per-tenant label', async () => {
    const scrape = async (): Promise<Sample[]> => parseExposition((await stack.request('/metrics')).body).samples;
    let samples = await scrape();
    assert.equal(valueOf(samples, 'ofgw_sessions', { state: 'connected' }), 0);
    assert.equal(valueOf(samples, 'ofgw_session_clients'), 0);
    await stack.store.updateModel(stack.modelId, { delivery: 'session' });
    await waitFor(() => stack.sim.currentConnections(MODEL_USER_ID) === 1, 5000, 'the session socket');
    const client = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': stack.apiKey } });
    await client.confirmed();
    stack.sim.push(MODEL_USER_ID, '{"api2_chat_message":{"id":1}}');
    await client.next();
    stack.sim.dropConnections(MODEL_USER_ID, 'reset');
    await waitFor(() => stack.sim.currentConnections(MODEL_USER_ID) === 1, 5000, 'the session socket back');
    await waitFor(() => stack.gateway.sessionStats().byState.connected === 1 && stack.gateway.sessionStats().upstreamReconnects >= 1, 5000, 'reconnected');
    samples = await scrape();
    assert.equal(valueOf(samples, 'ofgw_sessions', { state: 'connected' }), 1);
    assert.equal(valueOf(samples, 'ofgw_session_clients'), 1);
    assert.ok((valueOf(samples, 'ofgw_session_upstream_reconnects_total') ?? 0) >= 1);
    assert.ok((valueOf(samples, 'ofgw_event_log_entries_total') ?? 0) >= 1);
    assert.ok((valueOf(samples, 'ofgw_session_deliveries_total') ?? 0) >= 1);
    assert.ok((valueOf(samples, 'ofgw_event_log_size', { unit: 'entries' }) ?? 0) >= 1);
    const body = (await stack.request('/metrics')).body;
    for (const id of [stack.orgId, stack.modelId, stack.keyId]) assert.ok(!body.includes(id), `the output mentions ${id}`);
    client.socket.close();
    await client.closed;
  });

  it('time live events from the upstream read to the client write, since the previous scrape', async () => {
    const scrape = async (): Promise<Sample[]> => parseExposition((await stack.request('/metrics')).body).samples;
    const lag = (samples: Sample[], timedFrom: string, stat: string): number | undefined =>
      valueOf(samples, 'ofgw_session_delivery_lag_seconds', { timed_from: timedFrom, stat });
    await waitFor(() => stack.gateway.sessionStats().byState.connected === 1, 5000, 'the session up');
    const client = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': stack.apiKey } });
    await client.confirmed();
    await scrape(); // starts a period
    const started = performance.now();
    stack.sim.push(MODEL_USER_ID, '{"api2_chat_message":{"id":2}}');
    await client.next();
    const endToEnd = (performance.now() - started) / 1000;
    let samples = await scrape();
    const p99 = lag(samples, 'upstream_read', 'p99') ?? 0;
    assert.ok(p99 > 0, 'the event was timed');
    assert.ok(p99 <= endToEnd, `the gateway's part (${p99} s) is within the push-to-receipt time (${endToEnd} s)`);
    assert.ok((lag(samples, 'upstream_read', 'max') ?? 0) >= p99);
    assert.equal(lag(samples, 'log_append', 'p99'), 0, 'nothing came through a cluster log');
    samples = await scrape();
    assert.equal(lag(samples, 'upstream_read', 'p99'), 0, 'a new period: nothing delivered since');
    client.socket.close();
    await client.closed;
  });
});
