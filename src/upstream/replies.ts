/**
 * What OnlyFans sends in answer to the connect act (onlyfans-ws-protocol.md §2.2): a JSON
 * object with `connected: true` (`{"connected": true, "v": "5.4.0"}`), or one with `error`.
 * JSON may come in a text or a binary frame, spaced or compact: parse, never compare strings.
 */

/**
 * Replies to the connect act are far smaller than this (33 bytes seen); bigger messages are
 * events, so the relay's check of every upstream message stops at the size.
 */
export const CONNECTED_REPLY_MAX_BYTES = 128;

const CONNECTED = Buffer.from('connected');

/** The payload as a JSON object, or undefined when it is not one. */
export function parseJsonObject(payload: Buffer): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * True for a reply to a connect act: a JSON object of at most {@link CONNECTED_REPLY_MAX_BYTES}
 * whose `connected` is `true`. Cheap for everything else: a size check, then a byte search,
 * before any parse.
 * @example isConnectedReply(Buffer.from('{"connected": true, "v": "5.4.0"}')) // true
 */
export function isConnectedReply(payload: Buffer | undefined): boolean {
  if (payload === undefined || payload.length > CONNECTED_REPLY_MAX_BYTES || !payload.includes(CONNECTED)) return false;
  return parseJsonObject(payload)?.connected === true;
}
