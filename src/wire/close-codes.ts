/**
 * Close-code rules for a relay (contract §3, RFC 6455 §7.4). 1005, 1006 and 1015 describe a
 * close but may never be sent in a close frame; `ws` throws if asked to, which has crashed
 * other proxies. Everything that forwards a close code goes through here.
 */

/** Codes a close frame may carry: 1000–1014 except 1004–1006, and 3000–4999. */
export function isSendableCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  return (code >= 1000 && code <= 1014 && (code < 1004 || code > 1006)) || (code >= 3000 && code <= 4999);
}

/** 1014 Bad Gateway: what a client sees when the upstream ended without a sendable code. */
export const BAD_GATEWAY = 1014;

/** Upstream → client: a sendable code passes through, anything else becomes 1014. */
export function clientCloseCodeFor(upstreamCode: number): number {
  return isSendableCloseCode(upstreamCode) ? upstreamCode : BAD_GATEWAY;
}

/** Client → upstream: the same rule, except that "no code" (1005) is a normal 1000. */
export function upstreamCloseCodeFor(clientCode: number): number {
  if (clientCode === 1005) return 1000;
  return isSendableCloseCode(clientCode) ? clientCode : BAD_GATEWAY;
}

const MAX_REASON_BYTES = 123;

/**
 * A close reason must fit in 123 bytes of UTF-8 (a control frame carries 125 bytes, two of
 * them the code). Cuts on a character boundary rather than throwing.
 */
export function fitCloseReason(reason: Buffer | string): Buffer | string {
  const bytes = typeof reason === 'string' ? Buffer.from(reason) : reason;
  if (bytes.length <= MAX_REASON_BYTES) return reason;
  let end = MAX_REASON_BYTES;
  // Step back over UTF-8 continuation bytes (10xxxxxx) so no character is split.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
