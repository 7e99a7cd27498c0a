/**
 * The AsyncAPI document (src/api/asyncapi.ts): valid for the official parser with no errors or
 * warnings, every error code of the catalog in it with its close code, its examples (made by the
 * frame builders) valid against its own JSON Schemas, every message used by an operation, and
 * served by a real gateway at GET /api/asyncapi.json.
 */
import { Parser } from '@asyncapi/parser';
import { Ajv } from 'ajv';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { asyncApiDocument } from '../../src/api/asyncapi.js';
import { createCustomerRoutes } from '../../src/api/index.js';
import { eventFrame, gapFrame, statusFrame } from '../../src/delivery/envelope.js';
import { ERROR_CATALOG, PLAIN_CLOSE_CODES } from '../../src/errors.js';
import { testBody } from '../../src/webhooks/payloads.js';
import { startStack, type Stack } from '../helpers.js';

type Doc = Record<string, unknown> & {
  channels: Record<string, { address: string | null; messages: Record<string, { $ref: string }> }>;
  operations: Record<string, { action: string; channel: { $ref: string }; messages: { $ref: string }[] }>;
  components: { messages: Record<string, { payload: Record<string, unknown>; headers?: Record<string, unknown>; examples?: { payload: unknown }[]; description?: string; 'x-error-codes'?: Record<string, { closeCode: number; httpStatus: number }> }> };
};

/** Diagnostics of severity error (0) or warning (1); hints and information are left out. */
async function problems(doc: unknown): Promise<string[]> {
  const { diagnostics } = await new Parser().parse(JSON.stringify(doc));
  return diagnostics.filter((d) => d.severity <= 1).map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`);
}

describe('the AsyncAPI document', () => {
  const doc = asyncApiDocument({ version: '1.2.3' }) as Doc;

  it('parses and validates with @asyncapi/parser without errors or warnings', async () => {
    assert.deepEqual(await problems(doc), []);
  });

  it('the parser check can fail: an operation naming another channel\'s message is an error', async () => {
    const broken = structuredClone(doc);
    const op = broken.operations.sendRawActs;
    assert.ok(op);
    op.messages = [{ $ref: '#/channels/modelEvents/messages/sseReady' }];
    assert.ok((await problems(broken)).some((p) => p.startsWith('asyncapi3-operation-messages-from-referred-channel')));
  });

  it('has every code of the error catalog with its close code and HTTP status, and the plain close codes', () => {
    const errorFrame = doc.components.messages.errorFrame;
    assert.ok(errorFrame);
    const codes = (errorFrame.payload.properties as { code: { enum: string[] } }).code.enum;
    assert.deepEqual([...codes].sort(), Object.keys(ERROR_CATALOG).sort());
    for (const [code, spec] of Object.entries(ERROR_CATALOG)) {
      assert.deepEqual({ closeCode: errorFrame['x-error-codes']?.[code]?.closeCode, httpStatus: errorFrame['x-error-codes']?.[code]?.httpStatus }, { closeCode: spec.closeCode, httpStatus: spec.httpStatus }, code);
      assert.ok(errorFrame.description?.includes(`| \`${code}\` | ${spec.closeCode} | ${spec.httpStatus} |`), `${code} in the table`);
    }
    for (const { code } of Object.values(PLAIN_CLOSE_CODES)) assert.ok(errorFrame.description?.includes(`| — | ${code} |`), `close code ${code}`);
  });

  it('has the channels of the contract: raw and envelope sockets, the multi-model socket, SSE and the webhook', () => {
    const addresses = Object.values(doc.channels).map((c) => c.address);
    assert.deepEqual(addresses.sort(), ['/api/models/{model_id}/events', '/api/models/{model_id}/ws', '/api/models/{model_id}/ws', '/api/ws', null].sort());
    const used = new Set(Object.values(doc.operations).flatMap((o) => o.messages.map((r) => doc.channels[r.$ref.split('/')[2] as string]?.messages[r.$ref.split('/')[4] as string]?.$ref)));
    for (const name of Object.keys(doc.components.messages)) assert.ok(used.has(`#/components/messages/${name}`), `${name} is used by an operation`);
    assert.equal(doc.operations.receiveWebhooks?.action, 'receive', 'the customer receives webhooks');
  });

  it("its JSON Schemas accept its examples and real frames, and refuse broken ones", () => {
    const ajv = new Ajv({ strict: false, validateFormats: false });
    const validate = (message: string, value: unknown): boolean => {
      const payload = doc.components.messages[message]?.payload;
      assert.ok(payload, message);
      return ajv.validate(payload, value);
    };
    let examples = 0;
    for (const [name, message] of Object.entries(doc.components.messages)) {
      for (const e of message.examples ?? []) {
        assert.ok(ajv.validate(message.payload, e.payload), `${name} example: ${ajv.errorsText()}`);
        examples++;
      }
    }
    assert.ok(examples >= 12, `${examples} examples`);
    const model = '16f3d13b-9415-4e6b-babe-e8db6b31bd97';
    for (const [bytes, binary] of [[Buffer.from('{"typing":{"id":1}}'), false], [Buffer.from('x'), false], [Buffer.from([0, 255]), true]] as const) {
      assert.ok(validate('event', JSON.parse(eventFrame(model, '1-0', 5, bytes, binary))), ajv.errorsText());
      assert.ok(validate('event', JSON.parse(eventFrame(model, undefined, 5, bytes, binary))), ajv.errorsText());
    }
    assert.ok(validate('sseStatus', JSON.parse(statusFrame(model, 'down', 'credentials rejected'))));
    assert.ok(validate('sseGap', JSON.parse(gapFrame(model, null, '2-0'))));
    assert.equal(validate('status', { type: 'status', modelId: model, upstream: 'gone' }), false);
    assert.equal(validate('webhookEvent', { type: 'model.connected', timestamp: '2026-01-01T00:00:00Z', data: { modelId: model, eventId: '1-0', frame: {} } }), false);
    assert.ok(validate('webhookEvent', { type: 'onlyfans.api2_chat_message', timestamp: '2026-01-01T00:00:00.000Z', data: { modelId: model, eventId: '1-0', frame: { api2_chat_message: {} } } }));
    assert.ok(validate('webhookLifecycle', { type: 'session.upstream_down', timestamp: '2026-01-01T00:00:00Z', data: { modelId: model, reason: 'reset' } }));
    assert.ok(validate('webhookTest', JSON.parse(testBody(model, '2026-01-01T00:00:00.000Z'))), ajv.errorsText());
    assert.equal(validate('webhookTest', { type: 'model.connected', timestamp: '2026-01-01T00:00:00Z', data: { endpointId: model, message: 'x' } }), false);
    const headers = doc.components.messages.webhookEvent?.headers;
    assert.ok(headers);
    assert.ok(ajv.validate(headers, { 'webhook-id': 'msg_1', 'webhook-timestamp': '1767225600', 'webhook-signature': 'v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= v1,AAAA', 'content-type': 'application/json' }), ajv.errorsText());
    assert.equal(ajv.validate(headers, { 'webhook-id': 'msg_1', 'webhook-timestamp': '1767225600', 'webhook-signature': 'v2,abc', 'content-type': 'application/json' }), false);
  });
});

describe('GET /api/asyncapi.json on a real gateway', () => {
  let stack: Stack;
  let port: number;
  before(async () => {
    stack = await startStack({ routes: (gw) => [createCustomerRoutes(gw, { version: '9.9.9' })] });
    port = Number(new URL(stack.baseUrl).port);
  });
  after(async () => {
    await stack.close();
  });

  function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; type: string | undefined; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('serves the document without a key, naming the gateway by the Host it was asked at', async () => {
    const res = await get('/api/asyncapi.json');
    assert.equal(res.status, 200);
    assert.match(res.type ?? '', /^application\/json/);
    const served = JSON.parse(res.body) as Doc;
    assert.deepEqual(served, JSON.parse(JSON.stringify(asyncApiDocument({ version: '9.9.9', host: `127.0.0.1:${port}` }))));
    assert.deepEqual(await problems(served), []);
  });

  it('ignores a Host header that is not a host, and answers 405 to other methods', async () => {
    const odd = JSON.parse((await get('/api/asyncapi.json', { host: 'evil.example"><script>' })).body) as { servers: { gateway: { variables: { host: { default: string } } } } };
    assert.equal(odd.servers.gateway.variables.host.default, 'localhost:8080');
    const post = await get('/api/asyncapi.json', {}, 'POST');
    assert.equal(post.status, 405);
    assert.equal((JSON.parse(post.body) as { code: string }).code, 'METHOD_NOT_ALLOWED');
  });
});
