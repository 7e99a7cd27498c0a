/**
 * Every message a customer consumes or sends, defined once as zod schemas: the base contract's
 * confirmation and error frame, the envelope frames (sessions-contract.md §3), the multi-model
 * socket's frames (§4), server-sent events (§5) and webhook deliveries (§6). The frame
 * builders in ./envelope.ts are typed from these, tests check every frame they produce against
 * them, and src/api/asyncapi.ts turns them into the AsyncAPI document — so the document, the
 * code and the wire cannot drift apart.
 */
import { z } from 'zod';
import { ERROR_CATALOG, type ErrorCode } from '../errors.js';

const modelId = z.string().describe("The model's UUID");
/** Opaque to clients: compare for equality, pass back in `since` (contract §2). */
const eventId = z.string().describe('The event id: unique per model, ordered as received; opaque (compare for equality, pass back in since)');

export const errorCodeSchema = z.enum(Object.keys(ERROR_CATALOG) as [ErrorCode, ...ErrorCode[]]).describe('Stable code to branch on (the error catalog)');

/** The base contract's confirmation (gateway-contract.md §2): the first frame of a raw relay. */
export const rawConfirmationSchema = z
  .object({ connected: z.literal(true), modelId })
  .strict()
  .describe('The first frame of a raw relay: the upstream is ready');

/**
 * The base contract's error frame, sent before the close (or, for `closes: false` codes, alone).
 * Loose: "more fields may be added, never removed" (gateway-contract.md §2).
 */
export const errorFrameSchema = z
  .object({
    error: z.string().describe('What was wrong, for humans; may change'),
    code: errorCodeSchema,
    retryAfterMs: z.number().int().nonnegative().optional().describe('RATE_LIMITED and some CONNECTION_LIMIT: when a retry may succeed'),
    stage: z.string().optional().describe('WS_CONNECT_ERROR: where opening the OnlyFans socket failed'),
  })
  .loose()
  .describe('Why the connection was refused or ended; the close that follows carries the code as its reason');

export const envelopeConfirmationSchema = z
  .object({
    connected: z.literal(true),
    modelId,
    format: z.literal('envelope'),
    lastEventId: eventId.nullable().optional().describe("Session mode: the newest logged event's id when the client attached (null: the log is empty); absent in relay mode"),
    resumed: z.boolean().optional().describe('Session mode: true when since was given and nothing after it was lost; absent in relay mode'),
  })
  .strict()
  .describe('The first frame of an envelope-format socket');

const eventHead = {
  type: z.literal('event'),
  id: eventId.optional().describe('Session mode only: the event id (absent in relay mode)'),
  modelId,
  ts: z.number().int().describe('When the gateway received the frame, in ms since the epoch'),
};

/** An OnlyFans frame that is a JSON object: `data` is that object, `event` its first key. */
export const jsonEventFrameSchema = z
  .object({
    ...eventHead,
    event: z.string().describe("The OnlyFans frame's first top-level key, e.g. api2_chat_message"),
    data: z.record(z.string(), z.unknown()).describe('The OnlyFans frame as JSON'),
  })
  .strict();

/** Any other frame (binary, or text that is not a JSON object), its bytes in base64. */
export const base64EventFrameSchema = z
  .object({
    ...eventHead,
    event: z.null(),
    encoding: z.literal('base64'),
    data: z.string().describe("The frame's bytes, base64"),
  })
  .strict();

export const eventFrameSchema = z.union([jsonEventFrameSchema, base64EventFrameSchema]).describe('One OnlyFans event');

export const upstreamStateSchema = z.enum(['connected', 'reconnecting', 'down']).describe("The model's OnlyFans socket");

export const statusFrameSchema = z
  .object({ type: z.literal('status'), modelId, upstream: upstreamStateSchema, reason: z.string().optional() })
  .strict()
  .describe("A change of the upstream's state, in order with the events: events of a span it was not connected may never have reached the gateway");

export const gapFrameSchema = z
  .object({
    type: z.literal('gap'),
    modelId,
    after: eventId.nullable().describe('The last id the client has (null: none or unknown)'),
    before: eventId.nullable().describe('The first id the client gets next (null: the log is empty)'),
  })
  .strict()
  .describe('Events between these ids are not available (older than the log, or the client fell behind)');

const requestId = z.string().max(128).optional().describe("The client's own requestId, echoed");

export const replyFrameSchema = z
  .union([
    z.object({ type: z.literal('reply'), requestId, data: z.unknown().describe("The upstream's answer as JSON, e.g. {\"online\": [...]}") }).strict(),
    z.object({ type: z.literal('reply'), requestId, error: z.string(), code: errorCodeSchema }).strict(),
  ])
  .describe("The answer to the client's own request: the upstream's reply, or an error (the socket stays open)");

/** An OnlyFans act as a client sends it (gateway-contract.md §5), raw or inside `send`. */
export const onlyFansActSchema = z
  .object({ act: z.string().describe('e.g. get_onlines; in session mode only allow-listed acts, never connect') })
  .loose()
  .describe('An OnlyFans act, e.g. {"act": "get_onlines", "ids": ["12345678"]}');

export const clientSendSchema = z
  .object({ type: z.literal('send'), requestId, data: onlyFansActSchema })
  .loose()
  .describe('A client frame: data goes up the OnlyFans socket as it is (other fields are ignored)');

/** Every frame the gateway sends on an envelope-format socket to one model. */
export const envelopeServerFrameSchema = z.union([envelopeConfirmationSchema, eventFrameSchema, statusFrameSchema, gapFrameSchema, replyFrameSchema, errorFrameSchema]);

/** The multi-model socket's confirmation (§4): the models admitted, and each one's resume state. */
export const multiConfirmationSchema = z
  .object({
    connected: z.literal(true),
    format: z.literal('envelope'),
    models: z.array(modelId).describe('The models admitted, in the order asked; each refused one gets an error frame'),
    lastEventIds: z.record(z.string(), eventId.nullable()).describe("Each admitted model's newest logged id when it attached (null: its log is empty)"),
    resumed: z.record(z.string(), z.boolean()).describe('Per model: true when its since was given and nothing after it was lost'),
  })
  .strict()
  .describe('The first frame of a multi-model socket');

export const multiErrorFrameSchema = z
  .object({ type: z.literal('error'), modelId, code: errorCodeSchema, error: z.string() })
  .loose()
  .describe('One model of a multi-model socket was refused or became unavailable; the others stay');

// ── Server-sent events (§5): each message is one event's `data:` line, parsed ──────────────

export const sseReadySchema = z
  .object({ modelId, lastEventId: eventId.nullable(), resumed: z.boolean().describe('true when the stream resumed (Last-Event-ID or since) with nothing lost') })
  .strict()
  .describe('event: ready — the first event of the stream');

/** `event: base64`: an OnlyFans frame that is not JSON (binary or other text), its bytes in base64. */
export const sseBase64Schema = z.base64().describe('event: base64, id: <event id> — the frame\'s bytes in base64');

/** `event: end`: the stream ends with a catalog error (revocation, the model disconnected…). */
export const sseEndSchema = errorFrameSchema.describe('event: end — the stream ends with this error; codes with retry false mean: do not reconnect');

export const sseEventDataSchema = z.unknown().describe('event: <OnlyFans key>, id: <event id> — data is the OnlyFans frame as JSON');

// ── Webhooks (§6) ───────────────────────────────────────────────────────────────────────────

/** The contract's lifecycle types, at least these (§6). */
export const WEBHOOK_LIFECYCLE_TYPES = [
  'model.connected',
  'model.disconnected',
  'model.credentials_rejected',
  'model.credentials_refreshed',
  'session.upstream_down',
  'session.upstream_restored',
] as const;

export type WebhookLifecycleType = (typeof WEBHOOK_LIFECYCLE_TYPES)[number];

const webhookTimestamp = z.iso.datetime().describe('When the event happened (ISO 8601)');

export const webhookEventBodySchema = z
  .object({
    type: z.string().regex(/^onlyfans\..+$/).describe('onlyfans.<OnlyFans event key>, e.g. onlyfans.api2_chat_message'),
    timestamp: webhookTimestamp,
    data: z.object({ modelId, eventId, frame: z.unknown().describe('The OnlyFans frame as JSON') }).strict(),
  })
  .strict()
  .describe("An OnlyFans event of a session-mode model; data.eventId orders a model's events");

export const webhookLifecycleBodySchema = z
  .object({
    type: z.enum(WEBHOOK_LIFECYCLE_TYPES),
    timestamp: webhookTimestamp,
    data: z.object({ modelId }).loose().describe('modelId and the details of the change'),
  })
  .strict()
  .describe("A change of a model's or its session's state");

export const webhookTestBodySchema = z
  .object({
    type: z.literal('webhook.test'),
    timestamp: webhookTimestamp.describe('When the test was queued (ISO 8601)'),
    data: z.object({ endpointId: z.string().describe('The endpoint tested'), message: z.string() }).strict(),
  })
  .strict()
  .describe('A test delivery an operator asked for (ofgw webhook test, the management API, the dashboard); sent whatever the filters');

/** The Standard Webhooks headers every delivery carries (https://www.standardwebhooks.com). */
export const webhookHeadersSchema = z
  .object({
    'webhook-id': z.string().describe("The delivery's id, the same on every retry: the receiver's deduplication key"),
    'webhook-timestamp': z.string().regex(/^\d+$/).describe('Seconds since the epoch when this attempt was signed; reject ones too far from now'),
    'webhook-signature': z
      .string()
      .regex(/^v1,[A-Za-z0-9+/]+={0,2}( v1,[A-Za-z0-9+/]+={0,2})*$/)
      .describe('v1,<base64 HMAC-SHA256 of "id.timestamp.body" with the secret\'s bytes>; several, space-separated, while a rotated secret overlaps'),
    'content-type': z.literal('application/json'),
  })
  .loose()
  .describe('Standard Webhooks headers');

export type RawConfirmation = z.infer<typeof rawConfirmationSchema>;
export type ErrorFrame = z.infer<typeof errorFrameSchema>;
export type EnvelopeConfirmationFrame = z.infer<typeof envelopeConfirmationSchema>;
export type EventFrame = z.infer<typeof eventFrameSchema>;
export type UpstreamState = z.infer<typeof upstreamStateSchema>;
export type StatusFrame = z.infer<typeof statusFrameSchema>;
export type GapFrame = z.infer<typeof gapFrameSchema>;
export type ReplyFrame = z.infer<typeof replyFrameSchema>;
export type ClientSend = z.infer<typeof clientSendSchema>;
export type MultiConfirmation = z.infer<typeof multiConfirmationSchema>;
export type MultiErrorFrame = z.infer<typeof multiErrorFrameSchema>;
export type WebhookEventBody = z.infer<typeof webhookEventBodySchema>;
export type WebhookLifecycleBody = z.infer<typeof webhookLifecycleBodySchema>;
export type WebhookTestBody = z.infer<typeof webhookTestBodySchema>;
