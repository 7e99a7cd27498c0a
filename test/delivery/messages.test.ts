/**
 * The customer-facing message schemas (src/delivery/messages.ts) against what the gateway really
 * sends: every frame builder of src/delivery/envelope.ts over varied inputs, every catalog error
 * frame, and every frame a real gateway sends on raw and envelope sockets in session and relay
 * mode. A builder and its schema (and so the AsyncAPI document) cannot drift apart unnoticed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { z } from 'zod';
import { confirmationFrame, eventFrame, gapFrame, rawConfirmationFrame, readClientAct, replyFrame, statusFrame } from '../../src/delivery/envelope.js';
import {
  base64EventFrameSchema,
  clientSendSchema,
  envelopeConfirmationSchema,
  envelopeServerFrameSchema,
  errorFrameSchema,
  eventFrameSchema,
  gapFrameSchema,
  jsonEventFrameSchema,
  onlyFansActSchema,
  rawConfirmationSchema,
  replyFrameSchema,
  statusFrameSchema,
  upstreamStateSchema,
} from '../../src/delivery/messages.js';
import { ERROR_CATALOG, GatewayError, type ErrorCode } from '../../src/errors.js';
import { MODEL_USER_ID, startStack, TestClient, waitFor, type Stack } from '../helpers.js';

const MODEL = '16f3d13b-9415-4e6b-babe-e8db6b31bd97';
const CODES = Object.keys(ERROR_CATALOG) as ErrorCode[];

/** Parses `text` as JSON and checks it against `schema`, naming the frame when it fails. */
function assertValid(schema: z.ZodType, text: string): Record<string, unknown> {
  const value = JSON.parse(text) as Record<string, unknown>;
  const result = schema.safeParse(value);
  assert.ok(result.success, `${text}\ndoes not match its schema: ${result.success ? '' : JSON.stringify(result.error.issues)}`);
  return value;
}

describe('the frames src/delivery/envelope.ts builds match their schemas', () => {
  it('event frames: JSON objects as data, anything else as base64, with and without an id', () => {
    const texts = ['{"api2_chat_message":{"id":7,"text":"héllo"}}', '{}', '{"online":["1"]}', '{"a":{"b":[1,2,{"c":null}]}}'];
    for (const id of ['1700000000000-0', undefined]) {
      for (const text of texts) {
        const frame = assertValid(jsonEventFrameSchema, eventFrame(MODEL, id, 1_700_000_000_000, Buffer.from(text), false));
        assert.deepEqual(frame.data, JSON.parse(text));
        assert.equal('id' in frame, id !== undefined);
      }
      for (const [payload, binary] of [
        [Buffer.from([1, 2, 3, 0xff]), true],
        [Buffer.from('{"a":1}'), true],
        [Buffer.from('not json'), false],
        [Buffer.from('[1,2]'), false],
        [Buffer.from('"a string"'), false],
        [Buffer.alloc(0), false],
      ] as const) {
        const frame = assertValid(base64EventFrameSchema, eventFrame(MODEL, id, 1, payload, binary));
        assert.ok(Buffer.from(String(frame.data), 'base64').equals(payload));
      }
    }
  });

  it('status, gap, reply and confirmation frames', () => {
    for (const upstream of upstreamStateSchema.options) {
      assertValid(statusFrameSchema, statusFrame(MODEL, upstream));
      assertValid(statusFrameSchema, statusFrame(MODEL, upstream, 'the upstream closed with 1006'));
    }
    for (const [a, b] of [[null, null], [null, '1-0'], ['1-0', '5-3']] as const) assertValid(gapFrameSchema, gapFrame(MODEL, a, b));
    for (const requestId of ['r1', undefined, 'x'.repeat(128)]) {
      assertValid(replyFrameSchema, replyFrame(requestId, { text: '{"online":["12345678"]}' }));
      for (const code of CODES) assertValid(replyFrameSchema, replyFrame(requestId, { code, error: 'it failed' }));
    }
    assertValid(envelopeConfirmationSchema, confirmationFrame({ modelId: MODEL }));
    assertValid(envelopeConfirmationSchema, confirmationFrame({ modelId: MODEL, lastEventId: null, resumed: false }));
    assertValid(envelopeConfirmationSchema, confirmationFrame({ modelId: MODEL, lastEventId: '17-2', resumed: true }));
    assertValid(rawConfirmationSchema, rawConfirmationFrame(MODEL));
  });

  it('the error frame of every catalog code, with and without extra fields', () => {
    for (const code of CODES) {
      assertValid(errorFrameSchema, new GatewayError(code).toFrame());
      assertValid(errorFrameSchema, new GatewayError(code, 'precise text', { retryAfterMs: 1000, stage: 'handshake' }).toFrame());
    }
  });

  it('every client frame readClientAct accepts is a send frame or a raw act of the schemas, and the schemas refuse what it refuses', () => {
    const accepted = [
      '{"type":"send","requestId":"r1","data":{"act":"get_onlines","ids":["1"]}}',
      '{"type":"send","data":{"act":"typing","typing_to":1}}',
      '{"act":"get_onlines","ids":["1"]}',
    ];
    for (const text of accepted) {
      assert.equal(readClientAct(Buffer.from(text), false).ok, true, text);
      const value: unknown = JSON.parse(text);
      assert.ok(clientSendSchema.safeParse(value).success || onlyFansActSchema.safeParse(value).success, text);
    }
    const refused = ['{"type":"send","data":[1]}', `{"type":"send","requestId":"${'x'.repeat(129)}","data":{"act":"a"}}`, '{"type":"send","data":{"no":"act"}}', '{"ids":[1]}'];
    for (const text of refused) {
      assert.equal(readClientAct(Buffer.from(text), false).ok, false, text);
      const value: unknown = JSON.parse(text);
      assert.ok(!clientSendSchema.safeParse(value).success && !onlyFansActSchema.safeParse(value).success, text);
    }
  });

  it('the schemas are not vacuous: they refuse frames that break the contract', () => {
    const broken: [z.ZodType, unknown][] = [
      [eventFrameSchema, { type: 'event', modelId: MODEL, ts: 1, event: null, data: 'AQI=' }],
      [eventFrameSchema, { type: 'event', modelId: MODEL, ts: 1, event: 'a', data: [1] }],
      [statusFrameSchema, { type: 'status', modelId: MODEL, upstream: 'gone' }],
      [gapFrameSchema, { type: 'gap', modelId: MODEL, after: '1-0' }],
      [replyFrameSchema, { type: 'reply', error: 'x', code: 'NOT_A_CODE' }],
      [errorFrameSchema, { error: 'x', code: 'NOT_A_CODE' }],
      [rawConfirmationSchema, { connected: true, modelId: MODEL, format: 'envelope' }],
      [envelopeConfirmationSchema, { connected: true, modelId: MODEL }],
    ];
    for (const [schema, value] of broken) assert.equal(schema.safeParse(value).success, false, JSON.stringify(value));
  });
});

describe('every frame a real gateway sends matches the schemas', () => {
  let stack: Stack;
  let relayModelId: string;
  before(async () => {
    stack = await startStack({ config: { sessionReconnectMinMs: 50, sessionReconnectMaxMs: 200, sessionRequestTimeoutMs: 1500 } });
    await stack.store.updateModel(stack.modelId, { delivery: 'session' });
    await waitFor(() => stack.sim.currentConnections(MODEL_USER_ID) === 1, 5000, 'the session socket');
    relayModelId = (await stack.store.createModel(stack.orgId, { name: 'Relay model', wsUrl: stack.sim.wsUrl(24), wsToken: stack.wsToken, userAgent: 'TestAgent/1.0' })).id;
  });
  after(async () => {
    await stack.close();
  });

  const open = (modelId: string, query = ''): TestClient => new TestClient(stack.relayUrl(modelId, query), { headers: { 'X-API-Key': stack.apiKey } });

  /** The next frame, checked against `schema`. */
  async function nextValid(client: TestClient, schema: z.ZodType, timeoutMs = 5000): Promise<Record<string, unknown>> {
    const frame = await client.next(timeoutMs);
    assert.equal(frame.isBinary, false, 'envelope frames are text');
    return assertValid(schema, frame.text);
  }

  it('session mode, envelope: confirmation, events of every kind, replies, refusals, status and gap', async () => {
    stack.sim.setOnline(['111']);
    const c = open(stack.modelId, '?format=envelope&since=not-an-id');
    await nextValid(c, envelopeConfirmationSchema);
    const gap = await nextValid(c, envelopeServerFrameSchema);
    assert.equal(gap.type, 'gap');
    stack.sim.push(MODEL_USER_ID, '{"api2_chat_message":{"id":1}}');
    stack.sim.push(MODEL_USER_ID, 'plain text');
    stack.sim.push(MODEL_USER_ID, Buffer.from([0, 1, 0xfe]), { binary: true });
    c.socket.send(JSON.stringify({ type: 'send', requestId: 'q1', data: { act: 'get_onlines', ids: ['111', '222'] } }));
    c.socket.send(JSON.stringify({ type: 'send', requestId: 'q2', data: { act: 'connect', token: 'x' } }));
    const seen = new Set<string>();
    while (!['event', 'reply', 'reply-error'].every((t) => seen.has(t))) {
      const f = await nextValid(c, envelopeServerFrameSchema);
      seen.add(f.type === 'reply' && 'code' in f ? 'reply-error' : String(f.type));
    }
    stack.sim.dropConnections(MODEL_USER_ID, 'reset');
    const states: string[] = [];
    while (!states.includes('connected')) {
      const f = await nextValid(c, envelopeServerFrameSchema, 10_000);
      if (f.type === 'status') states.push(String(f.upstream));
    }
    assert.ok(states.includes('reconnecting'), states.join());
    c.socket.close();
    await c.closed;
  });

  it('raw and relay-mode envelope confirmations and events, and a refusal', async () => {
    const raw = open(stack.modelId);
    await nextValid(raw, rawConfirmationSchema);
    raw.socket.close();
    const relay = open(relayModelId, '?format=envelope');
    const confirmation = await nextValid(relay, envelopeConfirmationSchema);
    assert.equal('lastEventId' in confirmation, false, 'relay mode has no ids');
    await waitFor(() => stack.sim.currentConnections(MODEL_USER_ID) === 2, 5000, 'the relay socket');
    stack.sim.push(MODEL_USER_ID, '{"typing":{"id":3}}');
    const event = await nextValid(relay, eventFrameSchema);
    assert.equal('id' in event, false);
    relay.socket.close();
    const refused = new TestClient(stack.relayUrl(stack.modelId), { headers: { 'X-API-Key': 'ofgw_wrong' } });
    const error = await nextValid(refused, errorFrameSchema);
    assert.equal(error.code, 'INVALID_API_KEY');
    await Promise.all([raw.closed, relay.closed, refused.closed]);
  });
});
