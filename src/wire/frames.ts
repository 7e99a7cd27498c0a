/**
 * RFC 6455 framing: what the relay needs to read frame headers as bytes stream past and to
 * write the few frames the gateway originates (confirmation, error frames, close, ping, pong,
 * the upstream `connect` act). Payloads the gateway relays are never re-framed.
 */
import { isUtf8 } from 'node:buffer';
import { createHash, randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';

export const enum Opcode {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xa,
}

/** RFC 6455 §1.3: appended to Sec-WebSocket-Key before hashing. */
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The Sec-WebSocket-Accept value for a Sec-WebSocket-Key. */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

type MaskFn = (source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number) => void;
type UnmaskFn = (buffer: Buffer, mask: Buffer) => void;

/**
 * bufferutil's native XOR (the same optional addon `ws` uses) when it loads; plain loops for
 * short payloads, where calling into C++ costs more than it saves (ws's own thresholds).
 */
const native = loadBufferUtil();

function loadBufferUtil(): { mask: MaskFn; unmask: UnmaskFn } | undefined {
  if (process.env.WS_NO_BUFFER_UTIL) return undefined;
  try {
    return createRequire(import.meta.url)('bufferutil') as { mask: MaskFn; unmask: UnmaskFn };
  } catch {
    return undefined;
  }
}

/** True when the native masking path is active (reported at start-up). */
export const nativeMasking = native !== undefined;

/** XORs `buffer[start, end)` with the 4-byte key at `key[keyAt]`, in place. */
export function unmaskRange(buffer: Buffer, start: number, end: number, key: Buffer, keyAt: number): void {
  if (native && end - start >= 32) {
    native.unmask(buffer.subarray(start, end), key.subarray(keyAt, keyAt + 4));
    return;
  }
  const k0 = key[keyAt] as number;
  const k1 = key[keyAt + 1] as number;
  const k2 = key[keyAt + 2] as number;
  const k3 = key[keyAt + 3] as number;
  for (let i = start, j = 0; i < end; i++, j++) {
    const k = (j & 3) === 0 ? k0 : (j & 3) === 1 ? k1 : (j & 3) === 2 ? k2 : k3;
    buffer[i] = (buffer[i] as number) ^ k;
  }
}

/**
 * Random bytes for masking keys and handshake nonces, drawn from a pool refilled 8 KiB at a
 * time (as `ws` does): one call into OpenSSL per 2,048 keys instead of one per frame.
 */
const POOL_SIZE = 8192;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolAt = POOL_SIZE;

/** Copies `length` (≤ 64) fresh random bytes into `target` at `offset`. */
export function randomInto(target: Buffer, offset: number, length: number): void {
  if (poolAt + length > POOL_SIZE) {
    randomFillSync(pool);
    poolAt = 0;
  }
  pool.copy(target, offset, poolAt, poolAt + length);
  poolAt += length;
}

/** A fresh Sec-WebSocket-Key: 16 random bytes, base64. */
export function handshakeKey(): string {
  const key = Buffer.allocUnsafe(16);
  randomInto(key, 0, 16);
  return key.toString('base64');
}

const HEX = Buffer.from('0123456789abcdef');

/**
 * A random (version 4) UUID as one flat string. `crypto.randomUUID()` returns a rope of a dozen
 * concatenated pieces, which a relay would keep alive for its whole life as its id.
 */
export function flatUuid(): string {
  const bytes = Buffer.allocUnsafe(16);
  randomInto(bytes, 0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const text = Buffer.allocUnsafe(36);
  for (let i = 0, at = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text[at++] = 0x2d;
    const b = bytes[i] as number;
    text[at++] = HEX[b >> 4] as number;
    text[at++] = HEX[b & 15] as number;
  }
  return text.toString('latin1');
}

/** The header size of a frame carrying `length` payload bytes. */
function headerSize(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * One whole frame (FIN set) with `payload`. `masked` frames (client → server) get a fresh
 * random key, as RFC 6455 §5.3 requires.
 */
export function encodeFrame(opcode: Opcode, payload: Buffer, masked: boolean): Buffer {
  const length = payload.length;
  const header = headerSize(length, masked);
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x80 | opcode;
  let at = 2;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 0x10000) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
    at = 4;
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
    at = 10;
  }
  if (!masked) {
    payload.copy(frame, at);
    return frame;
  }
  frame[1] = (frame[1] as number) | 0x80;
  randomInto(frame, at, 4);
  payload.copy(frame, at + 4);
  unmaskRange(frame, at + 4, frame.length, frame, at);
  return frame;
}

/** A close frame payload: the code, then the reason (already within 123 bytes); empty for none. */
export function closePayload(code: number | undefined, reason: Buffer | string): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const text = typeof reason === 'string' ? Buffer.from(reason) : reason;
  const payload = Buffer.allocUnsafe(2 + text.length);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  return payload;
}

/** An unmasked ping with no payload: the same bytes every time, so one shared buffer. */
export const SERVER_PING = Buffer.from([0x80 | Opcode.Ping, 0]);

/** Masked payloads up to this size are checked by the ASCII scan first (past it, native XOR is cheaper). */
const ASCII_SCAN_MAX = 2048;

/**
 * UTF-8 check of a whole text frame's payload `buf[at, end)`; a masked payload's key is the 4
 * bytes before it. An unmasked payload goes to `isUtf8` (simdutf). A masked one is first read
 * through its key in one pass, without writing or allocating: if every byte is ASCII it is valid.
 * Otherwise (or when it is large) it is unmasked in place, checked and masked again (XOR twice),
 * so the frame is relayed as it came without a copy.
 */
export function textIsValid(buf: Buffer, at: number, end: number, masked: boolean): boolean {
  if (!masked) return isUtf8(buf.subarray(at, end));
  if (end - at <= ASCII_SCAN_MAX && maskedIsAscii(buf, at, end)) return true;
  unmaskRange(buf, at, end, buf, at - 4);
  const ok = isUtf8(buf.subarray(at, end));
  unmaskRange(buf, at, end, buf, at - 4);
  return ok;
}

/** True when every byte of the masked payload `buf[at, end)` is below 0x80 once unmasked. */
function maskedIsAscii(buf: Buffer, at: number, end: number): boolean {
  const k0 = buf[at - 4] as number;
  const k1 = buf[at - 3] as number;
  const k2 = buf[at - 2] as number;
  const k3 = buf[at - 1] as number;
  let acc = 0;
  let i = at;
  for (; i + 4 <= end; i += 4) {
    acc |= ((buf[i] as number) ^ k0) | ((buf[i + 1] as number) ^ k1) | ((buf[i + 2] as number) ^ k2) | ((buf[i + 3] as number) ^ k3);
  }
  for (let j = at - 4; i < end; i++, j++) acc |= (buf[i] as number) ^ (buf[j] as number);
  return (acc & 0x80) === 0;
}
