/**
 * The SDK in envelope format against a real gateway with the model in session mode
 * (sessions-contract.md §3): typed events with ids, resume across dropped connections with
 * every numbered event once and in order, a gap when `since` is older than the log, status
 * events while the upstream reconnects, getOnlines matched by requestId, and the refusals that
 * leave the connection open (ACTION_NOT_ALLOWED). Also a relay-mode model in envelope format.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { connect, OfgwError, type OfgwClient } from '../../packages/client/src/node.js';
import { streamSequence } from '../../src/sandbox/index.js';
import { MODEL_USER_ID, socketConnections, waitFor } from '../helpers.js';
import { Recorder } from './recorder.js';
import { FAST_RECONNECT, quietPeriod, startSdkStack, watchUnhandledRejections, type SdkStack } from './sdk-harness.js';

/** Entries the test's log keeps per model: small, so a gap is easy to cause. */
const LOG_MAX_EVENTS = 40;

describe('SDK in envelope format, model in session mode', () => {
  let stack: SdkStack;
  const unhandled = watchUnhandledRejections();
  const clients: OfgwClient[] = [];
  async function open(options: Partial<Parameters<typeof connect>[0]> = {}): Promise<OfgwClient> {
    const client = await connect({ baseUrl: stack.baseUrl, modelId: stack.modelId, apiKey: stack.apiKey, reconnect: FAST_RECONNECT, format: 'envelope', ...options });
    clients.push(client);
    return client;
  }
  /** Cuts every client connection of the running gateway (the client sees 1006); the session stays. */
  function dropClientConnections(): number {
    const all = socketConnections(stack.current);
    for (const conn of all) conn.client.terminate();
    return all.length;
  }
  /** Resolves once an envelope client has received `count` more events of the model (so they are logged). */
  async function logged(count: number, push: () => void): Promise<string> {
    const watcher = await open();
    const recorder = new Recorder(watcher);
    push();
    await recorder.until(() => recorder.of('event').length >= count, `${count} events logged`);
    const last = watcher.lastEventId as string;
    await watcher.close();
    return last;
  }

  before(async () => {
    stack = await startSdkStack({
      simulator: { invalidCommandCloseMs: false },
      config: { sessionReconnectMinMs: 50, sessionReconnectMaxMs: 200, nodeTtlMs: 2000, sessionRequestTimeoutMs: 1500, eventLogMaxEvents: LOG_MAX_EVENTS },
    });
    await stack.store.updateModel(stack.modelId, { delivery: 'session' });
    await waitFor(() => stack.sim.currentConnections(MODEL_USER_ID) === 1, 5000, 'the session socket');
  });
  afterEach(async () => {
    stack.sim.stopStream(MODEL_USER_ID);
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  after(async () => {
    await stack.close();
    unhandled.stop();
    unhandled.check();
  });

  it('events are typed (id, modelId, ts, event, data), also reach message/onEvent, and lastEventId follows them', async () => {
    const client = await open();
    assert.equal(client.confirmation?.format, 'envelope');
    assert.equal(client.confirmation?.resumed, false);
    assert.ok(client.confirmation?.lastEventId === null || typeof client.confirmation?.lastEventId === 'string');
    assert.equal(client.lastEventId, undefined);
    const recorder = new Recorder(client);
    const texts: unknown[] = [];
    client.onEvent('api2_chat_message', (message) => texts.push(message.text));
    const before = Date.now();
    stack.sim.push(MODEL_USER_ID, { api2_chat_message: { id: 1, text: 'hi' } });
    stack.sim.push(MODEL_USER_ID, Buffer.from('{"typing":{"id":5}}'), { binary: true });
    stack.sim.push(MODEL_USER_ID, Buffer.from([0xff, 0x00, 0x7b]), { binary: true });
    await recorder.until(() => recorder.of('event').length === 3, 'three events');

    const [chat, typing, bytes] = recorder.of('event').map((e) => e.event);
    assert.match(String(chat?.id), /^\d+-\d+$/);
    assert.equal(chat?.modelId, stack.modelId);
    assert.ok((chat?.ts ?? 0) >= before - 1000 && (chat?.ts ?? 0) <= Date.now());
    assert.equal(chat?.event, 'api2_chat_message');
    assert.deepEqual(chat?.data, { api2_chat_message: { id: 1, text: 'hi' } });
    assert.equal(chat?.bytes, undefined);
    // A binary frame comes base64; the SDK decodes it and parses JSON as in raw format.
    assert.equal(typing?.event, 'typing');
    assert.deepEqual(typing?.data, { typing: { id: 5 } });
    assert.deepEqual([...(typing?.bytes ?? [])], [...Buffer.from('{"typing":{"id":5}}')]);
    assert.equal(bytes?.event, null);
    assert.equal(bytes?.data, undefined);
    assert.deepEqual([...(bytes?.bytes ?? [])], [0xff, 0x00, 0x7b]);
    assert.equal(new Set([chat?.id, typing?.id, bytes?.id]).size, 3);

    const messages = recorder.of('message').map((e) => e.message);
    assert.equal(messages.length, 3, 'every event is also a message');
    assert.deepEqual(messages[0]?.frame, chat?.data);
    assert.equal(messages[0]?.event, chat);
    assert.equal(messages[2]?.binary, true);
    assert.deepEqual(texts, ['hi']);
    assert.equal(client.lastEventId, bytes?.id);
  });

  it('resumes across dropped connections: every numbered event exactly once and in order', async () => {
    const client = await open();
    const recorder = new Recorder(client);
    const seqs: number[] = [];
    client.on('event', (event) => {
      const seq = streamSequence(event.data);
      if (seq !== undefined) seqs.push(seq);
    });
    stack.sim.startStream(MODEL_USER_ID, { perSecond: 40 });
    for (let drop = 1; drop <= 2; drop++) {
      await recorder.until(() => seqs.length >= drop * 10, `${drop * 10} numbered events`);
      assert.ok(dropClientConnections() >= 1, 'a client connection to cut');
      await recorder.until(() => recorder.of('open').length === drop, `reconnect ${drop}`);
    }
    const target = seqs.length + 10;
    await recorder.until(() => seqs.length >= target, 'events after the second reconnect');
    stack.sim.stopStream(MODEL_USER_ID);

    for (const open of recorder.of('open')) {
      assert.equal(open.reconnected, true);
      assert.equal(open.confirmation.resumed, true, 'nothing was lost within the log');
    }
    assert.equal(recorder.of('close').length, 2);
    assert.ok(recorder.of('close').every((c) => c.info.willReconnect && c.info.error.closeCode === 1006));
    assert.equal(recorder.of('gap').length, 0);
    const first = seqs[0] as number;
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => first + i), 'consecutive: none lost, none twice, in order');
    const ids = recorder.of('event').map((e) => e.event.id);
    assert.equal(new Set(ids).size, ids.length, 'no event id twice');
  });

  it('resumes across a gateway restart on the same store and event log: no event twice, in order, resumed', async () => {
    const client = await open();
    const recorder = new Recorder(client);
    const seqs: number[] = [];
    client.on('event', (event) => {
      const seq = streamSequence(event.data);
      if (seq !== undefined) seqs.push(seq);
    });
    stack.sim.startStream(MODEL_USER_ID, { perSecond: 40 });
    await recorder.until(() => seqs.length >= 10, '10 numbered events');
    await stack.restartGateway();
    await recorder.until(() => recorder.of('open').length === 1, 'reconnected to the new gateway', 10_000);
    const target = seqs.length + 10;
    await recorder.until(() => seqs.length >= target, 'events from the new gateway', 10_000);
    stack.sim.stopStream(MODEL_USER_ID);
    assert.equal(recorder.of('open')[0]?.confirmation.resumed, true, 'the log outlived the gateway');
    assert.equal(recorder.of('close')[0]?.info.code, 1012);
    assert.equal(recorder.of('gap').length, 0);
    // Events OnlyFans sent while no gateway held the socket never reached the log; the rest
    // come once each, in order.
    for (let i = 1; i < seqs.length; i++) assert.ok((seqs[i] as number) > (seqs[i - 1] as number), `in order, none twice: ${seqs.join(',')}`);
  });

  it('since resumes a new client (a process restart) after the saved id', async () => {
    const saved = await logged(1, () => stack.sim.push(MODEL_USER_ID, { api2_chat_message: { id: 100, text: 'before' } }));
    stack.sim.push(MODEL_USER_ID, { api2_chat_message: { id: 101, text: 'while away' } });
    await logged(1, () => stack.sim.push(MODEL_USER_ID, { api2_chat_message: { id: 102, text: 'while away 2' } }));
    const client = await open({ since: saved });
    assert.equal(client.confirmation?.resumed, true);
    const recorder = new Recorder(client);
    await recorder.until(() => recorder.of('event').filter((e) => e.event.event === 'api2_chat_message').length >= 2, 'the two missed events');
    const texts = recorder.of('event').flatMap((e) => (e.event.event === 'api2_chat_message' ? [(e.event.data?.api2_chat_message as { text: string }).text] : []));
    assert.deepEqual(texts.slice(0, 2), ['while away', 'while away 2']);
  });

  it('a gap tells what cannot be had when since is older than the log keeps', async () => {
    const old = await logged(1, () => stack.sim.push(MODEL_USER_ID, { typing: { id: 1 } }));
    await logged(LOG_MAX_EVENTS + 5, () => {
      for (let i = 0; i < LOG_MAX_EVENTS + 5; i++) stack.sim.push(MODEL_USER_ID, { typing: { id: 1000 + i } });
    });
    const heard: Array<{ type: 'gap'; after: string | null; before: string; modelId: string } | { type: 'event'; id: string | undefined }> = [];
    const client = await open({ since: old, on: { gap: (gap) => heard.push({ type: 'gap', ...gap }), event: ({ id }) => heard.push({ type: 'event', id }) } });
    assert.equal(client.confirmation?.resumed, false);
    await waitFor(() => heard.some((h) => h.type === 'event'), 5000, 'the replay');
    const [gap, firstEvent] = heard;
    assert.equal(gap?.type, 'gap', 'the gap comes first');
    assert.ok(gap?.type === 'gap');
    assert.equal(gap.after, old);
    assert.equal(gap.modelId, stack.modelId);
    assert.equal(typeof gap.before, 'string');
    assert.equal(firstEvent?.type, 'event');
    assert.notEqual(client.lastEventId, old, 'the replay moved lastEventId on');
  });

  it('status events while the upstream reconnects; the client connection stays open', async () => {
    const client = await open();
    const recorder = new Recorder(client);
    stack.sim.dropConnections(MODEL_USER_ID, 'reset');
    await recorder.until(() => recorder.of('status').some((s) => s.status.upstream === 'connected'), 'connected again', 10_000);
    const states = recorder.of('status').map((s) => s.status.upstream);
    assert.equal(states[0], 'reconnecting');
    assert.equal(states.at(-1), 'connected');
    assert.equal(recorder.of('status')[0]?.status.modelId, stack.modelId);
    assert.equal(recorder.of('close').length, 0);
    assert.equal(client.state, 'open');
    await waitFor(() => stack.sim.currentConnections(MODEL_USER_ID) === 1, 5000, 'the session socket back');
    stack.sim.push(MODEL_USER_ID, { typing: { id: 77 } });
    await recorder.until(() => recorder.of('event').length === 1, 'events go on');
  });

  it('getOnlines: several in flight, each resolved with its own reply by requestId', async () => {
    stack.sim.setOnline(['111', 222]);
    const client = await open();
    const [a, b, c] = await Promise.all([client.getOnlines(['111', '333']), client.getOnlines([222, 444]), client.getOnlines(['555'])]);
    assert.deepEqual(a, ['111']);
    assert.deepEqual(b, [222]);
    assert.deepEqual(c, []);
  });

  it('ACTION_NOT_ALLOWED rejects only that frame: an error event naming the request, no close, no reconnect (envelope and raw)', async () => {
    const envelope = await open();
    const raw = await open({ format: 'raw' });
    const recorders = [new Recorder(envelope), new Recorder(raw)];
    const requestId = envelope.send({ act: 'connect', token: 'not-allowed' });
    assert.equal(typeof requestId, 'string');
    assert.equal(raw.send({ act: 'connect', token: 'not-allowed' }), undefined);
    for (const recorder of recorders) await recorder.until(() => recorder.of('error').length === 1, 'the refusal');
    const [envelopeError, rawError] = recorders.map((r) => r.of('error')[0]?.error);
    assert.ok(envelopeError instanceof OfgwError && rawError instanceof OfgwError);
    assert.equal(envelopeError.code, 'ACTION_NOT_ALLOWED');
    assert.equal(envelopeError.requestId, requestId);
    assert.equal(rawError.code, 'ACTION_NOT_ALLOWED');
    assert.ok(!stack.sim.received.some((r) => r.data.toString().includes('not-allowed')), 'connect never goes up');
    // Past the SDK's 5 s wait for the close that follows a closing error frame.
    await quietPeriod(5500);
    for (const [client, recorder] of [[envelope, recorders[0]], [raw, recorders[1]]] as const) {
      assert.equal(client.state, 'open');
      assert.equal(recorder?.of('close').length, 0);
      assert.equal(recorder?.of('reconnecting').length, 0);
    }
    stack.sim.setOnline(['9']);
    assert.deepEqual(await envelope.getOnlines(['9']), ['9'], 'the connection still works');
  });

  it('a relay-mode model in envelope format: events without ids, nothing to resume, getOnlines by requestId', async () => {
    const userId = 4242;
    const model = await stack.store.createModel(stack.orgId, { wsUrl: stack.sim.wsUrl(), wsToken: stack.sim.issueToken({ userId }) });
    const client = await open({ modelId: model.id });
    assert.deepEqual(client.confirmation, { modelId: model.id, format: 'envelope' });
    const recorder = new Recorder(client);
    await waitFor(() => stack.sim.currentConnections(userId) === 1, 5000, 'the relay upstream');
    stack.sim.push(userId, { typing: { id: 3 } });
    await recorder.until(() => recorder.of('event').length === 1, 'an event');
    assert.equal(recorder.of('event')[0]?.event.id, undefined);
    assert.equal(recorder.of('event')[0]?.event.event, 'typing');
    assert.equal(client.lastEventId, undefined);
    stack.sim.setOnline(['1']);
    assert.deepEqual(await Promise.all([client.getOnlines(['1']), client.getOnlines(['2'])]), [['1'], []]);
  });
});
