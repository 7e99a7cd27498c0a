/**
 * The AsyncAPI 3.0 document of what customers consume (issue 15 item 8): the model WebSocket
 * in raw and envelope format, the multi-model socket, server-sent events and webhooks. Built from
 * the schemas in src/delivery/messages.ts (which the code and its tests use), the error catalog
 * of src/errors.ts, and examples made by the frame builders themselves — as the OpenAPI
 * document is built from the management API's route table.
 *
 * It describes a customer's application: a `receive` operation is what the gateway sends it, a
 * `send` what it may send the gateway.
 */
import { z } from 'zod';
import { confirmationFrame, eventFrame, gapFrame, multiConfirmationFrame, rawConfirmationFrame, replyFrame, statusFrame } from '../delivery/envelope.js';
import * as m from '../delivery/messages.js';
import { ERROR_CATALOG, GatewayError, HTTP_ERRORS, PLAIN_CLOSE_CODES } from '../errors.js';
import { testBody } from '../webhooks/payloads.js';

export const ASYNCAPI_PATH = '/api/asyncapi.json';

const EXAMPLE_MODEL = '16f3d13b-9415-4e6b-babe-e8db6b31bd97';
const EXAMPLE_TS = 1_767_225_600_000;
const EXAMPLE_ISO = new Date(EXAMPLE_TS).toISOString();
const EXAMPLE_ENDPOINT = '5b0f3c1e-2d4a-4c8e-9f10-7a6b5c4d3e2f';
const WS_BINDING = '0.1.0';
const HTTP_BINDING = '0.3.0';

/** A zod schema as the AsyncAPI schema (a JSON Schema draft 7 superset). */
function schema(s: z.ZodType, io: 'input' | 'output' = 'output'): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(s, { target: 'draft-7', io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

const example = (text: string): unknown => JSON.parse(text);

/** A markdown table of the error catalog: what the docs show, and what the code sends. */
function errorTable(): string {
  const rows = Object.entries(ERROR_CATALOG).map(
    ([code, spec]) => `| \`${code}\` | ${spec.closeCode} | ${spec.httpStatus} | ${spec.meaning} | ${spec.clientAction}${'closes' in spec && !spec.closes ? ' (the socket stays open)' : ''} |`,
  );
  const plain = Object.values(PLAIN_CLOSE_CODES).map((c) => `| — | ${c.code} | — | ${c.meaning} | ${c.clientAction} |`);
  return ['| code | close code | HTTP status | meaning | client should |', '|---|---|---|---|---|', ...rows, ...plain].join('\n');
}

const errorCodes = Object.fromEntries(
  Object.entries(ERROR_CATALOG).map(([code, spec]) => [
    code,
    { closeCode: spec.closeCode, httpStatus: spec.httpStatus, meaning: spec.meaning, clientAction: spec.clientAction, retry: spec.retry, closes: !('closes' in spec) || spec.closes !== false },
  ]),
);

/** The messages, built once: the only costly part of the document, and the same for every host. */
let builtMessages: Record<string, Record<string, unknown>> | undefined;
const messages = (): Record<string, Record<string, unknown>> => (builtMessages ??= buildMessages());

function buildMessages(): Record<string, Record<string, unknown>> {
  const sseHeaders = (event: string, id: boolean) => ({
    type: 'object',
    description: 'The server-sent event\'s fields besides data',
    required: ['event', ...(id ? ['id'] : [])],
    properties: { event: event === '*' ? { type: 'string', description: 'The OnlyFans event key, e.g. api2_chat_message' } : { const: event }, ...(id ? { id: { type: 'string', description: 'The event id; a reconnecting EventSource sends it back as Last-Event-ID' } } : {}) },
  });
  return {
    rawConfirmation: { name: 'rawConfirmation', title: 'Confirmation (raw)', payload: schema(m.rawConfirmationSchema), examples: [{ payload: example(rawConfirmationFrame(EXAMPLE_MODEL)) }] },
    errorFrame: {
      name: 'errorFrame',
      title: 'Error frame',
      summary: 'Why a connection was refused or ended; the close code and reason follow',
      description: `Sent before the close (the close reason is the code), or alone for errors that leave the socket open. Clients branch on \`code\`; \`error\` is for humans. On server-sent events the same codes answer as HTTP statuses with this body.\n\n${errorTable()}`,
      payload: schema(m.errorFrameSchema),
      examples: [{ payload: example(new GatewayError('MODEL_NOT_CONNECTED').toFrame()) }, { payload: example(new GatewayError('RATE_LIMITED', undefined, { retryAfterMs: 1000 }).toFrame()) }],
      'x-error-codes': errorCodes,
      'x-http-errors': HTTP_ERRORS,
    },
    onlyFansFrame: {
      name: 'onlyFansFrame',
      title: 'OnlyFans frame (raw)',
      summary: 'An upstream frame, unchanged in bytes and frame type (text or binary)',
      contentType: 'application/octet-stream',
      payload: { description: 'The OnlyFans frame as it arrived; JSON frames have one top-level key naming the event, e.g. {"api2_chat_message": {…}}' },
      examples: [{ payload: { api2_chat_message: { id: 7, text: 'hello' } } }],
    },
    onlyFansAct: { name: 'onlyFansAct', title: 'OnlyFans act', payload: schema(m.onlyFansActSchema, 'input'), examples: [{ payload: { act: 'get_onlines', ids: ['12345678', '87654321'] } }] },
    envelopeConfirmation: {
      name: 'envelopeConfirmation',
      title: 'Confirmation (envelope)',
      payload: schema(m.envelopeConfirmationSchema),
      examples: [{ payload: example(confirmationFrame({ modelId: EXAMPLE_MODEL, lastEventId: '1767225600000-0', resumed: true })) }, { name: 'relay mode', payload: example(confirmationFrame({ modelId: EXAMPLE_MODEL })) }],
    },
    event: {
      name: 'event',
      title: 'Event',
      payload: schema(m.eventFrameSchema),
      examples: [
        { payload: example(eventFrame(EXAMPLE_MODEL, '1767225600000-1', EXAMPLE_TS, Buffer.from('{"api2_chat_message":{"id":7,"text":"hello"}}'), false)) },
        { name: 'binary', payload: example(eventFrame(EXAMPLE_MODEL, '1767225600000-2', EXAMPLE_TS, Buffer.from([1, 2, 3]), true)) },
      ],
    },
    status: { name: 'status', title: 'Upstream status', payload: schema(m.statusFrameSchema), examples: [{ payload: example(statusFrame(EXAMPLE_MODEL, 'reconnecting', 'the upstream closed with 1006')) }] },
    gap: { name: 'gap', title: 'Gap', payload: schema(m.gapFrameSchema), examples: [{ payload: example(gapFrame(EXAMPLE_MODEL, '1767225600000-1', '1767225900000-0')) }] },
    reply: {
      name: 'reply',
      title: 'Reply',
      payload: schema(m.replyFrameSchema),
      examples: [{ payload: example(replyFrame('r1', { text: '{"online":["12345678"]}' })) }, { name: 'refused', payload: example(replyFrame('r2', { code: 'ACTION_NOT_ALLOWED', error: ERROR_CATALOG.ACTION_NOT_ALLOWED.message })) }],
    },
    clientSend: { name: 'clientSend', title: 'Send', payload: schema(m.clientSendSchema, 'input'), examples: [{ payload: { type: 'send', requestId: 'r1', data: { act: 'get_onlines', ids: ['12345678'] } } }] },
    multiConfirmation: { name: 'multiConfirmation', title: 'Confirmation (multi-model)', payload: schema(m.multiConfirmationSchema), examples: [{ payload: example(multiConfirmationFrame({ models: [EXAMPLE_MODEL], lastEventIds: { [EXAMPLE_MODEL]: '1767225600000-0' }, resumed: { [EXAMPLE_MODEL]: true } })) }] },
    multiError: { name: 'multiError', title: 'Model refused', summary: 'One model was refused or left the socket; the others stay', payload: schema(m.multiErrorFrameSchema) },
    sseReady: { name: 'sseReady', title: 'event: ready', headers: sseHeaders('ready', false), payload: schema(m.sseReadySchema) },
    sseEvent: { name: 'sseEvent', title: 'event: <OnlyFans key>', headers: sseHeaders('*', true), payload: schema(m.sseEventDataSchema) },
    sseStatus: { name: 'sseStatus', title: 'event: status', headers: sseHeaders('status', false), payload: schema(m.statusFrameSchema) },
    sseGap: { name: 'sseGap', title: 'event: gap', headers: sseHeaders('gap', false), payload: schema(m.gapFrameSchema) },
    sseBase64: { name: 'sseBase64', title: 'event: base64', headers: sseHeaders('base64', true), payload: schema(m.sseBase64Schema) },
    sseEnd: { name: 'sseEnd', title: 'event: end', headers: sseHeaders('end', false), payload: schema(m.sseEndSchema) },
    webhookEvent: { name: 'webhookEvent', title: 'Webhook: OnlyFans event', headers: schema(m.webhookHeadersSchema), payload: schema(m.webhookEventBodySchema) },
    webhookLifecycle: { name: 'webhookLifecycle', title: 'Webhook: lifecycle event', headers: schema(m.webhookHeadersSchema), payload: schema(m.webhookLifecycleBodySchema) },
    webhookTest: {
      name: 'webhookTest',
      title: 'Webhook: test delivery',
      headers: schema(m.webhookHeadersSchema),
      payload: schema(m.webhookTestBodySchema),
      examples: [{ payload: example(testBody(EXAMPLE_ENDPOINT, EXAMPLE_ISO)) }],
    },
  };
}

const apiKeyQuery = { api_key: { type: 'string', description: 'The API key, for browsers (which cannot set headers); X-API-Key wins when both are given' } };
const sinceQuery = { since: { type: 'string', description: 'Resume after this event id (session mode)' } };

/** A channel's messages, referenced from components. */
const refs = (names: string[]) => Object.fromEntries(names.map((n) => [n, { $ref: `#/components/messages/${n}` }]));
/** An operation of `channel` over some of its messages. */
const operation = (action: 'send' | 'receive', channel: string, names: string[], extra: Record<string, unknown> = {}) => ({
  action,
  channel: { $ref: `#/channels/${channel}` },
  messages: names.map((n) => ({ $ref: `#/channels/${channel}/messages/${n}` })),
  ...extra,
});

function wsBinding(query: Record<string, unknown>, required: string[] = []): Record<string, unknown> {
  return {
    ws: {
      method: 'GET',
      query: { type: 'object', properties: { ...query, ...apiKeyQuery }, ...(required.length ? { required } : {}) },
      headers: { type: 'object', properties: { 'X-API-Key': { type: 'string', description: 'The API key, for server-side clients' } } },
      bindingVersion: WS_BINDING,
    },
  };
}

const MODEL_ID = { model_id: { description: "The model's UUID (a model of the key's organization)" } };

/**
 * Builds the document. `host` is where the gateway is reached (the request's Host when served);
 * `version` the package version.
 */
export function asyncApiDocument(options: { host?: string; version?: string } = {}): Record<string, unknown> {
  const security = [{ $ref: '#/components/securitySchemes/apiKeyHeader' }, { $ref: '#/components/securitySchemes/apiKeyQuery' }];
  const host = { host: { default: options.host ?? 'localhost:8080', description: 'The gateway, host:port' } };
  const channels = {
    modelSocketRaw: {
      address: '/api/models/{model_id}/ws',
      title: "A model's socket, raw format",
      description: 'The base contract: the confirmation first, then every OnlyFans frame unchanged; acts go up unchanged. In session mode only allow-listed acts (never connect) go up a shared socket.',
      servers: [{ $ref: '#/servers/gateway' }],
      parameters: MODEL_ID,
      messages: refs(['rawConfirmation', 'errorFrame', 'onlyFansFrame', 'onlyFansAct']),
      bindings: wsBinding({ format: { type: 'string', enum: ['raw'], default: 'raw' } }),
    },
    modelSocketEnvelope: {
      address: '/api/models/{model_id}/ws',
      title: "A model's socket, envelope format (?format=envelope)",
      description: 'Every frame the gateway sends is JSON with a type; in session mode events carry ids and since resumes (a gap frame first when something was lost).',
      servers: [{ $ref: '#/servers/gateway' }],
      parameters: MODEL_ID,
      messages: refs(['envelopeConfirmation', 'event', 'status', 'gap', 'reply', 'errorFrame', 'clientSend', 'onlyFansAct']),
      bindings: wsBinding({ format: { type: 'string', const: 'envelope' }, ...sinceQuery }, ['format']),
    },
    multiModelSocket: {
      address: '/api/ws',
      title: 'Many models on one socket (envelope format)',
      description: 'Admission runs per model: the confirmation lists the models admitted, an error frame names each one refused; the socket closes only when none was admitted.',
      servers: [{ $ref: '#/servers/gateway' }],
      messages: refs(['multiConfirmation', 'multiError', 'event', 'status', 'gap', 'errorFrame']),
      bindings: wsBinding(
        {
          models: { type: 'string', description: 'Comma-separated model ids' },
          events: { type: 'string', description: 'Comma-separated OnlyFans event keys to keep (status and gap frames always come)' },
          since: { type: 'string', description: 'Per-model resume: <modelId>:<eventId>,…' },
        },
        ['models'],
      ),
    },
    modelEvents: {
      address: '/api/models/{model_id}/events',
      title: "A model's server-sent events",
      description:
        'GET with Accept: text/event-stream. ready first, then one event per OnlyFans frame (id: its event id, event: its key), status and gap as on the envelope socket, a comment line as heartbeat. Resume with the Last-Event-ID header (what an EventSource sends on reconnect) or ?since=. Refusals answer the error codes as HTTP statuses with the error frame as JSON body.',
      servers: [{ $ref: '#/servers/gatewayHttp' }],
      parameters: MODEL_ID,
      messages: refs(['sseReady', 'sseEvent', 'sseStatus', 'sseGap', 'sseBase64', 'sseEnd']),
    },
    webhook: {
      address: null,
      title: 'Webhook deliveries to your endpoint',
      description:
        "POSTs to each endpoint's url, signed per Standard Webhooks: verify webhook-signature (HMAC-SHA256 of \"id.timestamp.body\" with the whsec_ secret's bytes; several while a secret rotates), reject old webhook-timestamps, deduplicate on webhook-id (stable across retries). Answer 2xx within 10 s; anything else is retried with backoff for about a day; 410 Gone disables the endpoint.",
      servers: [{ $ref: '#/servers/webhookReceiver' }],
      messages: refs(['webhookEvent', 'webhookLifecycle', 'webhookTest']),
    },
  };
  const sseQuery = { type: 'object', properties: { ...sinceQuery, ...apiKeyQuery } };
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'ofgw customer interfaces',
      version: options.version ?? '0.0.0',
      description: `Real-time OnlyFans events of your models from an ofgw gateway: WebSocket (raw and envelope format, one model or many), server-sent events and signed webhooks. This document describes your application: receive operations are what the gateway sends you, send operations what you may send it.\n\nErrors and close codes:\n\n${errorTable()}`,
    },
    defaultContentType: 'application/json',
    servers: {
      gateway: { host: '{host}', protocol: 'wss', description: 'The gateway (ws:// where it runs without TLS)', variables: host, security },
      gatewayHttp: { host: '{host}', protocol: 'https', description: 'The gateway over HTTP (http:// where it runs without TLS)', variables: host, security },
      webhookReceiver: { host: '{receiver}', protocol: 'https', description: "Your webhook endpoint (the url you registered)", variables: { receiver: { description: 'Your endpoint\'s host' } } },
    },
    channels,
    operations: {
      receiveRawFrames: operation('receive', 'modelSocketRaw', ['rawConfirmation', 'onlyFansFrame', 'errorFrame']),
      sendRawActs: operation('send', 'modelSocketRaw', ['onlyFansAct']),
      receiveEnvelopeFrames: operation('receive', 'modelSocketEnvelope', ['envelopeConfirmation', 'event', 'status', 'gap', 'reply', 'errorFrame']),
      sendEnvelopeFrames: operation('send', 'modelSocketEnvelope', ['clientSend', 'onlyFansAct']),
      receiveMultiModelFrames: operation('receive', 'multiModelSocket', ['multiConfirmation', 'multiError', 'event', 'status', 'gap', 'errorFrame']),
      receiveServerSentEvents: operation('receive', 'modelEvents', ['sseReady', 'sseEvent', 'sseStatus', 'sseGap', 'sseBase64', 'sseEnd'], { bindings: { http: { method: 'GET', query: sseQuery, bindingVersion: HTTP_BINDING } } }),
      receiveWebhooks: operation('receive', 'webhook', ['webhookEvent', 'webhookLifecycle', 'webhookTest'], { bindings: { http: { method: 'POST', bindingVersion: HTTP_BINDING } } }),
    },
    components: {
      messages: messages(),
      securitySchemes: {
        apiKeyHeader: { type: 'httpApiKey', in: 'header', name: 'X-API-Key', description: 'An API key of your organization (server-side clients)' },
        apiKeyQuery: { type: 'httpApiKey', in: 'query', name: 'api_key', description: 'The same key in the URL, for browsers; the header wins when both are given' },
      },
    },
  };
}
