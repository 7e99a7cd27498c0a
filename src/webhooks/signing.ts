/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): `webhook-signature` is
 * `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` per secret, space-separated, so a receiver
 * holding either secret of a rotation verifies. The secret is `whsec_<base64 key>`.
 */
import { createHmac } from 'node:crypto';

export interface SignedHeaders {
  'webhook-id': string;
  /** Seconds since the epoch, when the attempt is made (receivers refuse stale ones). */
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** The HMAC key of a `whsec_…` secret. */
function keyOf(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

/**
 * The three headers of a delivery attempt, one signature per secret (current first).
 * @example signatureHeaders('msg_1', new Date(), '{"type":"webhook.test"}', [secret])
 */
export function signatureHeaders(id: string, at: Date, body: string, secrets: readonly string[]): SignedHeaders {
  const timestamp = String(Math.floor(at.getTime() / 1000));
  const signed = `${id}.${timestamp}.${body}`;
  const signature = secrets.map((s) => `v1,${createHmac('sha256', keyOf(s)).update(signed).digest('base64')}`).join(' ');
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature };
}
