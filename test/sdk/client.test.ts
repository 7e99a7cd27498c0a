/**
 * The SDK in Node against the real gateway and simulator: confirmation, events (parsed,
 * typed per key, unknown keys untouched, binary raw), send, getOnlines, every refusal as one
 * typed error, reconnection after a gateway restart and an upstream drop, no retry on the
 * "do not retry" codes, retryAfterMs, abort — and no unhandled rejection throughout.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { connect, OfgwError, type OfgwClient } from '../../packages/client/src/node.js';
import { freePort, MODEL_USER_ID, startScriptedUpstream, waitFor, type ScriptedUpstream } from '../helpers.js';
import { Recorder } from './recorder.js';
import { FAST_RECONNECT, orgWithPlan, quietPeriod, REFUSALS, startSdkStack, startUpgradeRecorder, watchUnhandledRejections, type SdkStack } from './sdk-harness.js';

async function rejection(promise: Promise<unknown>): Promise<OfgwError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof OfgwError, `expected an OfgwError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a rejection');
}

describe('SDK in Node', () => {
  let stack: SdkStack;
  const unhandled = watchUnhandledRejections();
  const clients: OfgwClient[] = [];
  /** connect() that closes the client after the suite. */
  async function open(options: Partial<Parameters<typeof connect>[0]> = {}): Promise<OfgwClient> {
    const client = await connect({ baseUrl: stack.baseUrl, modelId: stack.modelId, apiKey: stack.apiKey, reconnect: FAST_RECONNECT, ...options });
    clients.push(client);
    return client;
  }

  before(async () => {
    stack = await startSdkStack({ simulator: { invalidCommandCloseMs: false } });
  });
  // Each test's clients end with it, so one test's drops and restarts do not wake another's.
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  after(async () => {
    await stack.close();
    unhandled.stop();
    unhandled.check();
  });

  it('resolves on the confirmation; every relayed message is an event, parsed, typed by key, unknown keys untouched', async () => {
    const client = await open();
    assert.equal(client.state, 'open');
    const recorder = new Recorder(client);
    const chats: unknown[] = [];
    const typing: number[] = [];
    client.onEvent('api2_chat_message', (message) => chats.push(message.text));
    client.onEvent('typing', ({ id }) => typing.push(id));
    const unknownValues: unknown[] = [];
    client.onEvent('brand_new_key', (value) => unknownValues.push(value));

    stack.sim.push(MODEL_USER_ID, { typing: { id: 562630475 } });
    const multi = { api2_chat_message: { id: 1, text: '<p>hey</p>', fromUser: { id: 5 } }, brand_new_key: { nested: [1, 'two'] } };
    stack.sim.push(MODEL_USER_ID, multi);
    const bytes = Buffer.from('{"chat_messages":3,"count_priority_chat":1,"unread_tips":0}');
    stack.sim.push(MODEL_USER_ID, bytes, { binary: true });
    const notJson = Buffer.from([0xff, 0x00, 0x7b]);
    stack.sim.push(MODEL_USER_ID, notJson, { binary: true });
    await recorder.until(() => recorder.of('message').length === 4, 'four messages');

    const [first, second, third, fourth] = recorder.of('message').map((e) => e.message);
    assert.deepEqual(first?.frame, { typing: { id: 562630475 } });
    assert.equal(first?.binary, false);
    assert.equal(first?.raw, '{"typing":{"id":562630475}}');
    assert.deepEqual(second?.frame, multi, 'the frame is passed through as it came, unknown key included');
    assert.equal(third?.binary, true);
    assert.deepEqual([...(third?.raw as Uint8Array)], [...bytes]);
    assert.deepEqual(third?.json, { chat_messages: 3, count_priority_chat: 1, unread_tips: 0 });
    assert.equal(fourth?.binary, true);
    assert.equal(fourth?.json, undefined);
    assert.deepEqual([...(fourth?.raw as Uint8Array)], [...notJson]);
    assert.deepEqual(chats, ['<p>hey</p>']);
    assert.deepEqual(typing, [562630475]);
    assert.deepEqual(unknownValues, [{ nested: [1, 'two'] }]);
  });

  it('send(obj) relays the action as JSON text', async () => {
    const client = await open();
    const before = stack.sim.received.length;
    client.send({ act: 'typing', typing_to: 12345 });
    client.send(new Uint8Array(Buffer.from('{"act":"ping"}')));
    await waitFor(() => stack.sim.received.length >= before + 2, 5000, 'the actions upstream');
    const [text, binary] = stack.sim.received.slice(before);
    assert.deepEqual(JSON.parse(text!.data.toString()), { act: 'typing', typing_to: 12345 });
    assert.equal(text!.isBinary, false);
    assert.equal(binary!.isBinary, true);
    await client.close();
    assert.throws(() => client.send({ act: 'ping' }), (e: unknown) => e instanceof OfgwError && e.code === 'NOT_CONNECTED');
  });

  it('getOnlines resolves each request with its own online list, even when called concurrently', async () => {
    stack.sim.setOnline(['111', 222]);
    const client = await open();
    const [a, b, c] = await Promise.all([
      client.getOnlines(['111', '333']),
      client.getOnlines([222, 444]),
      client.getOnlines(['555']),
    ]);
    assert.deepEqual(a, ['111']);
    assert.deepEqual(b, [222]);
    assert.deepEqual(c, []);
  });

  describe('getOnlines over a scripted upstream (replies when the test says)', () => {
    let upstream: ScriptedUpstream;
    let modelId: string;
    before(async () => {
      upstream = await startScriptedUpstream();
      modelId = (await stack.store.createModel(stack.orgId, { wsUrl: upstream.url, wsToken: stack.wsToken })).id;
    });
    after(async () => {
      await upstream.close();
    });

    const getOnlinesSent = () => upstream.received.map((r) => JSON.parse(r.data.toString()) as { act: string; ids: unknown[] }).filter((m) => m.act === 'get_onlines');

    it('one request at a time: the next is sent only after the reply; a late reply of a timed-out request is never given to the next', async () => {
      const client = await open({ modelId });
      const ws = await upstream.socket();
      const first = client.getOnlines(['1'], { timeoutMs: 300 });
      const second = client.getOnlines(['2'], { timeoutMs: 5000 });
      await waitFor(() => getOnlinesSent().length === 1, 5000, 'the first get_onlines');
      assert.equal((await rejection(first)).code, 'TIMEOUT');
      // The first request's reply arrives late: it is dropped, and only then is the second sent.
      assert.equal(getOnlinesSent().length, 1, 'the second waits for the first reply');
      ws.send('{"online":[1]}');
      await waitFor(() => getOnlinesSent().length === 2, 5000, 'the second get_onlines');
      assert.deepEqual(getOnlinesSent()[1]?.ids, ['2']);
      ws.send('{"online":[2]}');
      assert.deepEqual(await second, [2]);
    });

    it('queued requests fail when the relay closes, with the close as the reason', async () => {
      const client = await open({ modelId, reconnect: false });
      await upstream.socket();
      const pending = [client.getOnlines(['1']), client.getOnlines(['2'])];
      const closing = client.closed;
      (await upstream.socket()).terminate();
      const errors = await Promise.all(pending.map(rejection));
      for (const error of errors) {
        assert.equal(error.code, 'CLOSED');
        assert.equal(error.closeCode, 1014);
      }
      assert.equal((await closing).closeCode, 1014);
    });

    it('close() fails pending requests with ABORTED', async () => {
      const client = await open({ modelId });
      await upstream.socket();
      const pending = rejection(client.getOnlines(['1']));
      await client.close();
      assert.equal((await pending).code, 'ABORTED');
      assert.equal((await rejection(client.getOnlines(['1']))).code, 'NOT_CONNECTED');
    });
  });

  for (const refusal of REFUSALS) {
    it(`connect() rejects with ${refusal.code} (${refusal.closeCode}): one typed error from the error frame and the close`, async () => {
      const { apiKey, modelId, keepOpen } = await refusal.arrange(stack);
      try {
        const error = await rejection(connect({ baseUrl: stack.baseUrl, modelId, apiKey, reconnect: FAST_RECONNECT }));
        assert.equal(error.code, refusal.code);
        assert.equal(error.closeCode, refusal.closeCode);
        assert.equal(error.closeReason, refusal.code);
        assert.ok(error.message.length > 0);
        assert.equal(error.fromGateway, true);
        if (refusal.code === 'RATE_LIMITED') assert.ok((error.retryAfterMs ?? 0) > 0, 'retryAfterMs is carried');
        if (apiKey) assert.ok(!JSON.stringify({ m: error.message, f: error.frame }).includes(apiKey), 'no key in the error');
      } finally {
        stack.sim.clearFaults();
        keepOpen?.socket.close();
        await keepOpen?.closed;
      }
    });
  }

  it('does not loop on INVALID_API_KEY, even with retryInitial: exactly one attempt reaches the gateway', async () => {
    const before = stack.attempts('INVALID_API_KEY');
    const error = await rejection(connect({ baseUrl: stack.baseUrl, modelId: stack.modelId, apiKey: 'ofgw_sk_nope', retryInitial: true, reconnect: FAST_RECONNECT }));
    assert.equal(error.code, 'INVALID_API_KEY');
    // Proving a retry does NOT happen needs a window: several times the longest backoff delay.
    await waitFor(() => stack.attempts('INVALID_API_KEY') - before >= 1, 5000, 'the logged attempt');
    await quietPeriod(4 * FAST_RECONNECT.maxDelayMs);
    assert.equal(stack.attempts('INVALID_API_KEY') - before, 1);
  });

  it('a key revoked while connected ends the client: no reconnect, `closed` resolves with INVALID_API_KEY', async () => {
    const key = await stack.store.createApiKey(stack.orgId, { name: 'to revoke' });
    const client = await open({ apiKey: key.key });
    const recorder = new Recorder(client);
    const before = stack.attempts('INVALID_API_KEY');
    await stack.store.revokeApiKey(key.id);
    const final = await client.closed;
    assert.equal(final.code, 'INVALID_API_KEY');
    assert.equal(final.closeCode, 4401);
    assert.equal(client.state, 'closed');
    const closes = recorder.of('close');
    assert.equal(closes.length, 1);
    assert.equal(closes[0]?.info.willReconnect, false);
    assert.equal(recorder.of('reconnecting').length, 0);
    await quietPeriod(4 * FAST_RECONNECT.maxDelayMs);
    assert.equal(stack.attempts('INVALID_API_KEY') - before, 1, 'the revoked relay itself, and no attempt after it');
  });

  it('reconnects after the upstream drops (1014), and resets the backoff after a stable relay', async () => {
    const client = await open();
    const recorder = new Recorder(client);
    for (let round = 1; round <= 2; round++) {
      // Stable: open longer than stableAfterMs, so each drop starts again from the first attempt.
      await quietPeriod(FAST_RECONNECT.stableAfterMs + 50);
      stack.sim.dropConnections(MODEL_USER_ID);
      await recorder.until(() => recorder.of('open').length === round, `reopen #${round}`);
      const reconnecting = recorder.of('reconnecting');
      assert.equal(reconnecting.length, round);
      assert.equal(reconnecting[round - 1]?.info.attempt, 1, 'the backoff was reset by the stable relay');
      assert.equal(reconnecting[round - 1]?.info.error.closeCode, 1014);
    }
    const close = recorder.of('close')[0]?.info;
    assert.equal(close?.code, 1014);
    assert.equal(close?.willReconnect, true);
    assert.deepEqual(recorder.of('open').map((e) => e.reconnected), [true, true]);
    stack.sim.push(MODEL_USER_ID, { post_published: { id: '492747400', user_id: '15585607', show_posts_in_feed: true } });
    await recorder.until(() => recorder.framesWith('post_published').length === 1, 'an event after reconnecting');
  });

  it('RATE_LIMITED on a reconnect: the wait honours retryAfterMs', async () => {
    // Plan "one-attempt": the first connection takes the key's only attempt for 20 s.
    const org = await orgWithPlan(stack, 'one-attempt');
    const client = await open({ apiKey: org.apiKey, modelId: org.modelId });
    const recorder = new Recorder(client);
    stack.sim.dropConnections(MODEL_USER_ID);
    await recorder.until(() => recorder.of('reconnecting').length === 2, 'a rate-limited reconnect');
    const [dropped, limited] = recorder.of('reconnecting').map((e) => e.info);
    assert.equal(dropped?.error.closeCode, 1014);
    assert.equal(limited?.error.code, 'RATE_LIMITED');
    assert.equal(limited?.error.closeCode, 4429);
    const retryAfterMs = limited?.error.retryAfterMs ?? 0;
    assert.ok(retryAfterMs > 1000, `retryAfterMs ${retryAfterMs}`);
    assert.ok((limited?.delayMs ?? 0) >= retryAfterMs, `waits ${limited?.delayMs} ≥ retryAfterMs ${retryAfterMs}`);
  });

  it('reconnects after the gateway restarts (1012)', async () => {
    const client = await open();
    const recorder = new Recorder(client);
    await stack.restartGateway();
    await recorder.until(() => recorder.of('open').length === 1, 'the reopen after the restart', 10_000);
    const close = recorder.of('close')[0]?.info;
    assert.equal(close?.code, 1012);
    assert.equal(close?.error.code, 'CLOSED');
    assert.equal(close?.willReconnect, true);
    stack.sim.push(MODEL_USER_ID, { stream_start: { stream_id: '1234', userId: 15585607 } });
    await recorder.until(() => recorder.framesWith('stream_start').length === 1, 'an event after the restart');
  });

  it('retryInitial retries a retryable first failure (maxRetries bounds it)', async () => {
    // An upstream that refuses connections: WS_CONNECT_ERROR on every attempt.
    const model = await stack.store.createModel(stack.orgId, { wsUrl: `ws://127.0.0.1:${await freePort()}/ws3/1`, wsToken: stack.wsToken });
    const before = stack.attempts('WS_CONNECT_ERROR');
    const error = await rejection(connect({ baseUrl: stack.baseUrl, modelId: model.id, apiKey: stack.apiKey, retryInitial: true, reconnect: { ...FAST_RECONNECT, maxRetries: 2 } }));
    assert.equal(error.code, 'WS_CONNECT_ERROR');
    assert.equal(error.closeCode, 4502);
    // The gateway logs each attempt as its relay finishes, a moment after the client saw the close.
    await waitFor(() => stack.attempts('WS_CONNECT_ERROR') - before >= 3, 5000, 'three logged attempts');
    await quietPeriod(4 * FAST_RECONNECT.maxDelayMs);
    assert.equal(stack.attempts('WS_CONNECT_ERROR') - before, 3, 'the first attempt and two retries');
  });

  it('a token OnlyFans rejects: WS_CONNECT_ERROR is retried, the NO_WS_CREDENTIALS that follows is not', async () => {
    const { apiKey, modelId } = await REFUSALS.find((r) => r.code === 'WS_CONNECT_ERROR')!.arrange(stack);
    try {
      const before = { connect: stack.attempts('WS_CONNECT_ERROR'), credentials: stack.attempts('NO_WS_CREDENTIALS') };
      const error = await rejection(connect({ baseUrl: stack.baseUrl, modelId, apiKey, retryInitial: true, reconnect: FAST_RECONNECT }));
      assert.equal(error.code, 'NO_WS_CREDENTIALS');
      assert.equal(error.closeCode, 4412);
      await waitFor(() => stack.attempts('NO_WS_CREDENTIALS') - before.credentials >= 1, 5000, 'the logged NO_WS_CREDENTIALS');
      const connectErrors = stack.attempts('WS_CONNECT_ERROR') - before.connect;
      // One, or two when the retry came before the gateway had stored the token as rejected.
      assert.ok(connectErrors >= 1 && connectErrors <= 2, `${connectErrors} WS_CONNECT_ERROR attempts`);
      await quietPeriod(4 * FAST_RECONNECT.maxDelayMs);
      assert.equal(stack.attempts('NO_WS_CREDENTIALS') - before.credentials, 1, 'no retry after NO_WS_CREDENTIALS');
      assert.equal(stack.attempts('WS_CONNECT_ERROR') - before.connect, connectErrors);
    } finally {
      stack.sim.clearFaults();
    }
  });

  it('retryModelUnavailable: waits for a disconnected model to come back', async () => {
    const { apiKey, modelId } = await REFUSALS.find((r) => r.code === 'MODEL_NOT_CONNECTED')!.arrange(stack);
    const before = stack.attempts('MODEL_NOT_CONNECTED');
    const connecting = connect({ baseUrl: stack.baseUrl, modelId, apiKey, retryInitial: true, reconnect: { ...FAST_RECONNECT, retryModelUnavailable: true } });
    await waitFor(() => stack.attempts('MODEL_NOT_CONNECTED') - before >= 2, 5000, 'two refused attempts');
    await stack.store.setModelStatus(modelId, 'connected');
    const client = await connecting;
    clients.push(client);
    assert.equal(client.state, 'open');
  });

  it('an AbortSignal stops everything: before connecting, and during a backoff wait', async () => {
    const aborted = new AbortController();
    aborted.abort();
    assert.equal((await rejection(connect({ baseUrl: stack.baseUrl, modelId: stack.modelId, apiKey: stack.apiKey, signal: aborted.signal }))).code, 'ABORTED');

    const controller = new AbortController();
    const client = await open({ signal: controller.signal, reconnect: { ...FAST_RECONNECT, baseDelayMs: 2000, maxDelayMs: 2000, random: () => 0.99 } });
    const recorder = new Recorder(client);
    stack.sim.dropConnections(MODEL_USER_ID);
    await recorder.until(() => recorder.of('reconnecting').length === 1, 'the backoff wait');
    const opened = stack.opened();
    controller.abort();
    const final = await client.closed;
    assert.equal(final.code, 'ABORTED');
    assert.equal(client.state, 'closed');
    await quietPeriod(2500);
    assert.equal(recorder.of('open').length, 0, 'no reconnect after the abort');
    assert.equal(stack.opened(), opened);
  });

  it('close() during the first connection rejects connect() with ABORTED', async () => {
    const controller = new AbortController();
    const connecting = connect({ baseUrl: stack.baseUrl, modelId: stack.modelId, apiKey: stack.apiKey, signal: controller.signal });
    controller.abort();
    assert.equal((await rejection(connecting)).code, 'ABORTED');
  });

  it('listeners given to connect() hear the retries of the first connection (added once it resolved, they heard none)', async () => {
    const heard: Array<{ event: string; attempt?: number; code: string }> = [];
    const unreachable = `ws://127.0.0.1:${await freePort()}`;
    const error = await rejection(
      connect({
        baseUrl: unreachable,
        modelId: stack.modelId,
        apiKey: stack.apiKey,
        retryInitial: true,
        reconnect: { ...FAST_RECONNECT, maxRetries: 2 },
        on: {
          reconnecting: ({ attempt, error: cause }) => heard.push({ event: 'reconnecting', attempt, code: cause.code }),
          error: (cause) => heard.push({ event: 'error', code: cause.code }),
        },
      }),
    );
    assert.equal(error.code, 'CLOSED');
    assert.equal(error.closeCode, 1006);
    assert.deepEqual(heard, [
      { event: 'error', code: 'CLOSED' },
      { event: 'reconnecting', attempt: 1, code: 'CLOSED' },
      { event: 'error', code: 'CLOSED' },
      { event: 'reconnecting', attempt: 2, code: 'CLOSED' },
    ]);
    // …and the same listeners stay on the client once it is connected.
    const opened: boolean[] = [];
    const client = await open({ on: { open: ({ reconnected }) => opened.push(reconnected) } });
    assert.deepEqual(opened, [false]);
    assert.equal(client.state, 'open');
  });

  it('bad options fail fast with a message naming the option, never echoing the key', async () => {
    await assert.rejects(connect({ baseUrl: stack.baseUrl, modelId: 'm', apiKey: 'k', on: { reconect: () => {} } as never }), /on\.reconect is not an event \(known: open, message, event, status, gap, modelError, error, close, reconnecting\)/);
    await assert.rejects(connect({ baseUrl: stack.baseUrl, modelId: 'm', apiKey: 'k', format: 'json' as never }), /format must be "raw" or "envelope"/);
    await assert.rejects(connect({ baseUrl: stack.baseUrl, modelId: 'm', apiKey: 'k', since: '1-0' }), /since needs format: "envelope"/);
    await assert.rejects(connect({ baseUrl: stack.baseUrl, modelId: 'm', apiKey: 'k', on: { open: 'x' } as never }), /on\.open must be a function/);
    await assert.rejects(connect({ baseUrl: 'ftp://x', modelId: 'm', apiKey: 'secret-key' }), /baseUrl/);
    await assert.rejects(connect({ baseUrl: stack.baseUrl, modelId: '', apiKey: 'secret-key' }), /modelId/);
    await assert.rejects(connect({ baseUrl: stack.baseUrl, modelId: 'm', apiKey: 'secret-key', reconnect: { baseDelayMs: -5 } }), (e: Error) => /reconnect\.baseDelayMs/.test(e.message) && !e.message.includes('secret-key'));
  });

  it('the Node entry sends the key in the X-API-Key header, never in the URL', async () => {
    const recorder = await startUpgradeRecorder();
    try {
      const error = await rejection(connect({ baseUrl: recorder.url, modelId: stack.modelId, apiKey: stack.apiKey, reconnect: false }));
      assert.equal(error.code, 'CLOSED');
      assert.equal(error.closeCode, 1006);
      assert.equal(recorder.requests.length, 1);
      assert.equal(recorder.requests[0]?.url, `/api/models/${stack.modelId}/ws`);
      assert.equal(recorder.requests[0]?.headers['x-api-key'], stack.apiKey);
    } finally {
      await recorder.close();
    }
  });

  it('no API key in the gateway logs', () => {
    const text = stack.allLogs.lines.join('\n');
    assert.ok(!text.includes(stack.apiKey));
  });
});
