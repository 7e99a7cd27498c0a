/**
 * Webhook signatures per Standard Webhooks (https://www.standardwebhooks.com), as the gateway
 * signs its deliveries (sessions-contract.md §6): `webhook-signature: v1,<base64 HMAC-SHA256 of
 * "id.timestamp.body">` with the bytes of a `whsec_<base64>` secret, several space-separated
 * while a rotated secret overlaps. WebCrypto only, so one implementation serves Node (≥ 20, whose
 * global `crypto.subtle` it is) and browsers (secure contexts: https or localhost).
 */

/** Why a delivery was not accepted as the gateway's. */
export type WebhookVerificationCode =
  | 'MISSING_HEADER'
  | 'INVALID_TIMESTAMP'
  | 'TIMESTAMP_TOO_OLD'
  | 'TIMESTAMP_TOO_NEW'
  | 'INVALID_SIGNATURE'
  | 'INVALID_SECRET'
  | 'INVALID_BODY';

/** A delivery that failed verification; the message never holds a secret or a signature. */
export class WebhookVerificationError extends Error {
  readonly code: WebhookVerificationCode;
  constructor(code: WebhookVerificationCode, message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
    this.code = code;
  }
}

/** A delivery's body (sessions-contract.md §6). */
export interface WebhookPayload {
  /** `onlyfans.<event key>` (e.g. `onlyfans.api2_chat_message`) or a lifecycle type (`model.connected`, …). */
  type: string;
  /** ISO 8601. */
  timestamp: string;
  /** For an event `{modelId, eventId, frame}`; for a lifecycle type `modelId` and its details. */
  data: { modelId: string; eventId?: string; frame?: unknown; [detail: string]: unknown };
}

/** Request headers: a Fetch `Headers`, or Node's `req.headers` (lower-case names). */
export type WebhookHeaders = { get(name: string): string | null } | Record<string, string | readonly string[] | undefined>;

/** One secret, or during a rotation's overlap the old and the new (either may have signed). */
export type WebhookSecrets = string | readonly string[];

export interface VerifyWebhookOptions {
  secret: WebhookSecrets;
  headers: WebhookHeaders;
  /** The raw body as received: re-serialized JSON does not verify. */
  body: string | Uint8Array;
  /** How far `webhook-timestamp` may be from now, in seconds (default 300, the standard's): a replayed old delivery is refused. */
  toleranceSec?: number;
}

export interface VerifiedWebhook {
  /** `webhook-id`: the same on every retry of a delivery, so the key to deduplicate on. */
  id: string;
  /** `webhook-timestamp`, seconds since the epoch. */
  timestamp: number;
  payload: WebhookPayload;
}

export interface SignWebhookOptions {
  secret: WebhookSecrets;
  id: string;
  body: string | Uint8Array;
  /** Seconds since the epoch (default now). */
  timestamp?: number;
}

/** A type, not an interface, so it passes as a header record as it is. */
export type WebhookSignatureHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

const PREFIX = 'whsec_';
const DEFAULT_TOLERANCE_SEC = 300;

/** The part of WebCrypto used here (typed here so neither the DOM nor Node's types are needed). */
interface HmacCrypto {
  importKey(format: 'raw', key: Uint8Array, algorithm: { name: 'HMAC'; hash: 'SHA-256' }, extractable: false, usages: ['sign']): Promise<unknown>;
  sign(algorithm: 'HMAC', key: unknown, data: Uint8Array): Promise<ArrayBuffer>;
}

function subtle(): HmacCrypto {
  const s = (globalThis as { crypto?: { subtle?: HmacCrypto } }).crypto?.subtle;
  if (!s) throw new Error('no WebCrypto (crypto.subtle) in this runtime: browsers offer it on https pages and localhost only');
  return s;
}

/**
 * Checks that a delivery was signed by the gateway with one of `secret`, recently; resolves with
 * its id, timestamp and parsed body, rejects with a {@link WebhookVerificationError}.
 *
 * @example
 * import { verifyWebhook } from '@ofgw/client'
 * // Node http: collect the raw body first, then
 * const { id, payload } = await verifyWebhook({ secret: process.env.OFGW_WEBHOOK_SECRET, headers: req.headers, body: rawBody })
 * if (await alreadySeen(id)) return res.writeHead(200).end()  // retries keep their webhook-id
 */
export async function verifyWebhook(options: VerifyWebhookOptions): Promise<VerifiedWebhook> {
  const id = header(options.headers, 'webhook-id');
  const timestampText = header(options.headers, 'webhook-timestamp');
  const signatures = header(options.headers, 'webhook-signature');
  if (!/^\d{1,15}$/.test(timestampText)) throw new WebhookVerificationError('INVALID_TIMESTAMP', 'webhook-timestamp is not whole seconds since the epoch');
  const timestamp = Number(timestampText);
  const tolerance = options.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  const now = Math.floor(Date.now() / 1000);
  if (timestamp < now - tolerance) throw new WebhookVerificationError('TIMESTAMP_TOO_OLD', `webhook-timestamp is more than ${tolerance} s in the past`);
  if (timestamp > now + tolerance) throw new WebhookVerificationError('TIMESTAMP_TOO_NEW', `webhook-timestamp is more than ${tolerance} s in the future`);

  const given = signatures
    .split(' ')
    .map((s) => (s.startsWith('v1,') ? fromBase64(s.slice(3)) : undefined))
    .filter((s): s is Uint8Array => s !== undefined);
  const content = signedContent(id, timestampText, options.body);
  let valid = false;
  for (const key of secretKeys(options.secret)) {
    const expected = new Uint8Array(await hmac(key, content));
    // Every pair is compared, so the time taken does not tell which one matched.
    for (const signature of given) valid = equalInConstantTime(expected, signature) || valid;
  }
  if (!valid) throw new WebhookVerificationError('INVALID_SIGNATURE', 'no v1 signature in webhook-signature matches the body with the secret(s) given');

  let payload: WebhookPayload;
  try {
    payload = JSON.parse(typeof options.body === 'string' ? options.body : new TextDecoder().decode(options.body)) as WebhookPayload;
  } catch {
    throw new WebhookVerificationError('INVALID_BODY', 'the body is signed but not JSON');
  }
  return { id, timestamp, payload };
}

/**
 * The Standard Webhooks headers for a delivery: one `v1` signature per secret. For tests of a
 * receiver, and for anything that delivers webhooks the way the gateway does.
 *
 * @example
 * const headers = await signWebhook({ secret, id: 'msg_1', body: JSON.stringify(payload) })
 * await fetch(receiverUrl, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body })
 */
export async function signWebhook(options: SignWebhookOptions): Promise<WebhookSignatureHeaders> {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new RangeError('timestamp must be whole seconds since the epoch');
  if (options.id === '' || /\s/.test(options.id)) throw new RangeError('id must be non-empty, without whitespace (it is a header value)');
  const content = signedContent(options.id, String(timestamp), options.body);
  const signatures: string[] = [];
  for (const key of secretKeys(options.secret)) signatures.push(`v1,${toBase64(new Uint8Array(await hmac(key, content)))}`);
  return { 'webhook-id': options.id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signatures.join(' ') };
}

function header(headers: WebhookHeaders, name: string): string {
  let value: string | readonly string[] | null | undefined;
  if (typeof headers.get === 'function') value = (headers as { get(name: string): string | null }).get(name);
  else {
    const record = headers as Record<string, string | readonly string[] | undefined>;
    value = record[name] ?? Object.entries(record).find(([key]) => key.toLowerCase() === name)?.[1];
  }
  const text = typeof value === 'string' ? value : value?.[0];
  if (text === undefined || text === null || text === '') throw new WebhookVerificationError('MISSING_HEADER', `the ${name} header is missing`);
  return text;
}

/** `id.timestamp.body` as bytes. */
function signedContent(id: string, timestamp: string, body: string | Uint8Array): Uint8Array {
  const head = new TextEncoder().encode(`${id}.${timestamp}.`);
  const tail = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  const content = new Uint8Array(head.length + tail.length);
  content.set(head);
  content.set(tail, head.length);
  return content;
}

function secretKeys(secret: WebhookSecrets): Uint8Array[] {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0) throw new WebhookVerificationError('INVALID_SECRET', 'no secret given');
  return secrets.map((s, i) => {
    const key = fromBase64(s.startsWith(PREFIX) ? s.slice(PREFIX.length) : s);
    // Named by position only: the secret itself never goes into a message.
    if (!key || key.length === 0) throw new WebhookVerificationError('INVALID_SECRET', `secret ${secrets.length > 1 ? `#${i + 1} ` : ''}is not whsec_ followed by base64`);
    return key;
  });
}

async function hmac(key: Uint8Array, content: Uint8Array): Promise<ArrayBuffer> {
  const crypto = subtle();
  return crypto.sign('HMAC', await crypto.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']), content);
}

function equalInConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false; // a signature's length is no secret
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

function fromBase64(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) return undefined;
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}
