/**
 * Raw WebSocket bytes for tests of the frame scanner (src/wire): hand-built frames, a frame
 * parser that keeps every frame's raw bytes, a raw client that does its own upgrade, and a raw
 * upstream (a `net` server that answers the upgrade itself) standing in for OnlyFans.
 *
 * Nothing here uses `ws` or src/wire, so a bug in the gateway's framing cannot hide behind the
 * same bug in the test's framing.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';

export const OP = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptFor(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

export function newKey(): string {
  return randomBytes(16).toString('base64');
}

export interface FrameOptions {
  fin?: boolean;
  /** RSV bits as they sit in the first byte (0x40 RSV1, 0x20 RSV2, 0x10 RSV3). */
  rsv?: number;
  /** true: a random key; a Buffer: that key; false: unmasked. Default true (client frames). */
  mask?: boolean | Buffer;
}

/** One frame, exactly as it goes on the wire. Lengths pick the shortest encoding. */
export function frame(opcode: number, payload: Buffer | string = Buffer.alloc(0), options: FrameOptions = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const fin = options.fin ?? true;
  const maskOpt = options.mask ?? true;
  const key = maskOpt === false ? null : maskOpt === true ? randomBytes(4) : maskOpt;
  const len = data.length;
  const lenBytes = len < 126 ? 0 : len < 0x10000 ? 2 : 8;
  const header = Buffer.alloc(2 + lenBytes + (key ? 4 : 0));
  header[0] = (fin ? 0x80 : 0) | (options.rsv ?? 0) | opcode;
  header[1] = (key ? 0x80 : 0) | (len < 126 ? len : len < 0x10000 ? 126 : 127);
  if (lenBytes === 2) header.writeUInt16BE(len, 2);
  if (lenBytes === 8) header.writeBigUInt64BE(BigInt(len), 2);
  if (!key) return Buffer.concat([header, data]);
  key.copy(header, 2 + lenBytes);
  const body = Buffer.from(data);
  for (let i = 0; i < body.length; i++) body[i] = (body[i] as number) ^ (key[i & 3] as number);
  return Buffer.concat([header, body]);
}

/** A frame header claiming a 64-bit `length`, with no payload behind it. */
export function header64(opcode: number, length: bigint, masked: boolean): Buffer {
  const header = Buffer.alloc(10 + (masked ? 4 : 0));
  header[0] = 0x80 | opcode;
  header[1] = (masked ? 0x80 : 0) | 127;
  header.writeBigUInt64BE(length, 2);
  if (masked) randomBytes(4).copy(header, 10);
  return header;
}

/** A close frame payload: code then reason; a raw Buffer passes through as is. */
export function closeBody(code: number, reason: string | Buffer = ''): Buffer {
  const text = typeof reason === 'string' ? Buffer.from(reason) : reason;
  const body = Buffer.alloc(2 + text.length);
  body.writeUInt16BE(code, 0);
  text.copy(body, 2);
  return body;
}

export interface ParsedFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  /** Unmasked payload. */
  payload: Buffer;
  /** The frame's bytes as they arrived. */
  raw: Buffer;
}

/** Parses every frame that arrives on a socket, keeping each frame's raw bytes. */
export class FrameStream {
  readonly frames: ParsedFrame[] = [];
  ended = false;
  private buf: Buffer = Buffer.alloc(0);
  private read = 0;
  private waiters: (() => void)[] = [];
  /** Bytes that could not be parsed (a frame header the parser rejects): should stay empty. */
  garbage = false;

  constructor(socket: net.Socket, initial?: Buffer) {
    socket.on('data', (chunk: Buffer) => this.push(chunk));
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    if (initial && initial.length > 0) this.push(initial);
  }

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      const b = this.buf;
      if (b.length < 2) break;
      const b0 = b[0] as number;
      const b1 = b[1] as number;
      let len = b1 & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) break;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) break;
        const big = b.readBigUInt64BE(2);
        if (big > 2n ** 32n) {
          this.garbage = true;
          this.buf = Buffer.alloc(0);
          break;
        }
        len = Number(big);
        at = 10;
      }
      const masked = (b1 & 0x80) !== 0;
      const keyAt = at;
      if (masked) at += 4;
      if (b.length < at + len) break;
      const payload = Buffer.from(b.subarray(at, at + len));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (b[keyAt + (i & 3)] as number);
      this.frames.push({
        fin: (b0 & 0x80) !== 0,
        rsv: b0 & 0x70,
        opcode: b0 & 0x0f,
        masked,
        payload,
        raw: Buffer.from(b.subarray(0, at + len)),
      });
      this.buf = b.subarray(at + len);
    }
    this.wake();
  }

  /** The next unread frame; rejects after `timeoutMs` or when the socket closed first. */
  async next(timeoutMs = 5000, what = 'a frame'): Promise<ParsedFrame> {
    await this.until(() => this.frames.length > this.read || this.ended, timeoutMs, what);
    const f = this.frames[this.read];
    if (!f) throw new Error(`socket closed before ${what}`);
    this.read++;
    return f;
  }

  /** Skips to the first unread frame with `opcode` (others are consumed). */
  async nextOf(opcode: number, timeoutMs = 5000): Promise<ParsedFrame> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 100_000; i++) {
      const f = await this.next(Math.max(1, deadline - Date.now()), `a frame with opcode ${opcode}`);
      if (f.opcode === opcode) return f;
    }
    throw new Error('unreachable');
  }

  /** Resolves once `condition` holds (checked on every arrival); rejects after `timeoutMs`. */
  until(condition: () => boolean, timeoutMs = 5000, what = 'a condition'): Promise<void> {
    return new Promise((resolve, reject) => {
      if (condition()) return resolve();
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const check = (): void => {
        if (condition()) {
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  /** Marks the first `n` frames as read (next() starts after them). */
  skip(n: number): void {
    this.read = Math.max(this.read, n);
  }

  /** Frames received since (and including) index `from`. */
  since(from: number): ParsedFrame[] {
    return this.frames.slice(from);
  }

  /** The first close frame received, as code and reason (code 1005 for an empty one). */
  async closeFrame(timeoutMs = 5000): Promise<{ code: number; reason: string; raw: Buffer }> {
    await this.until(() => this.frames.some((f) => f.opcode === OP.close) || this.ended, timeoutMs, 'a close frame');
    const f = this.frames.find((x) => x.opcode === OP.close);
    if (!f) throw new Error('socket closed without a close frame');
    return {
      code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005,
      reason: f.payload.subarray(2).toString('utf8'),
      raw: f.payload,
    };
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }
}

function closedPromise(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    socket.once('close', () => resolve());
  });
}

/** Reads an HTTP response head from `socket`; resolves with it and the bytes after it. */
function readHead(socket: net.Socket, timeoutMs: number): Promise<{ head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error(`no HTTP response head within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) {
        if (buf.length > 64 * 1024) finish(new Error('response head over 64 KiB'));
        return;
      }
      finish(undefined, { head: buf.subarray(0, end).toString('latin1'), rest: buf.subarray(end + 4) });
    };
    const onClose = (): void => finish(new Error(`socket closed before a response head (got ${JSON.stringify(buf.toString('latin1'))})`));
    const finish = (err?: Error, value?: { head: string; rest: Buffer }): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(value as { head: string; rest: Buffer });
    };
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

function parseHead(head: string): { status: number; headers: Record<string, string> } {
  const lines = head.split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status, headers };
}

export function connectTcp(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** An upgrade request as text; `headers` with a null value leaves a default header out. */
export function upgradeRequest(path: string, port: number, headers: Record<string, string | null> = {}, method = 'GET'): string {
  const all: Record<string, string | null> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': newKey(),
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  let text = `${method} ${path} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(all)) if (value !== null) text += `${name}: ${value}\r\n`;
  return `${text}\r\n`;
}

/** A full HTTP exchange on a fresh socket, read until the server closes (refused upgrades). */
export async function httpExchange(port: number, request: string, timeoutMs = 5000): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const socket = await connectTcp(port);
  try {
    const all = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => reject(new Error(`the server did not close within ${timeoutMs} ms`)), timeoutMs);
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks));
      });
      socket.write(request);
    });
    const text = all.toString('utf8');
    const end = text.indexOf('\r\n\r\n');
    const { status, headers } = parseHead(end === -1 ? text : text.slice(0, end));
    return { status, headers, body: end === -1 ? '' : text.slice(end + 4) };
  } finally {
    socket.destroy();
  }
}

/** A WebSocket client that writes and reads raw bytes after its own upgrade. */
export class RawClient {
  readonly socket: net.Socket;
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly key: string;
  readonly in: FrameStream;
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket, key: string, status: number, headers: Record<string, string>, rest: Buffer) {
    this.socket = socket;
    this.key = key;
    this.status = status;
    this.headers = headers;
    this.closed = closedPromise(socket);
    this.in = new FrameStream(socket, rest);
  }

  /**
   * Connects, sends the upgrade (plus `extra` bytes in the same write) and reads the answer's
   * head. Throws unless the answer is 101 with the right Sec-WebSocket-Accept.
   */
  static async open(port: number, path: string, headers: Record<string, string | null> = {}, extra?: Buffer): Promise<RawClient> {
    const key = newKey();
    const socket = await connectTcp(port);
    const headPromise = readHead(socket, 5000);
    const request = Buffer.from(upgradeRequest(path, port, { 'Sec-WebSocket-Key': key, ...headers }));
    socket.write(extra ? Buffer.concat([request, extra]) : request);
    const { head, rest } = await headPromise;
    const { status, headers: got } = parseHead(head);
    if (status !== 101) {
      socket.destroy();
      throw new Error(`expected 101, got: ${head}`);
    }
    if (got['sec-websocket-accept'] !== acceptFor(key)) {
      socket.destroy();
      throw new Error(`wrong Sec-WebSocket-Accept in: ${head}`);
    }
    return new RawClient(socket, key, status, got, rest);
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Writes `bytes` in pieces, each in its own write with `delayMs` between. */
  async writeInPieces(bytes: Buffer, sizes: () => number, delayMs: number): Promise<number> {
    return writeInPieces(this.socket, bytes, sizes, delayMs);
  }

  /** The confirmation frame (first frame); throws if it is anything else. */
  async confirmed(timeoutMs = 5000): Promise<Record<string, unknown>> {
    const f = await this.in.next(timeoutMs, 'the confirmation');
    const body = f.opcode === OP.text ? (JSON.parse(f.payload.toString('utf8')) as Record<string, unknown>) : {};
    if (body.connected !== true) throw new Error(`expected the confirmation, got opcode ${f.opcode}: ${f.payload.toString('utf8')}`);
    return body;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export async function writeInPieces(socket: net.Socket, bytes: Buffer, sizes: () => number, delayMs: number): Promise<number> {
  let pieces = 0;
  for (let at = 0; at < bytes.length && pieces < 1_000_000; pieces++) {
    const n = Math.max(1, Math.min(sizes(), bytes.length - at));
    socket.write(bytes.subarray(at, at + n));
    at += n;
    await new Promise((r) => setTimeout(r, delayMs));
  }
  return pieces;
}

/** One connection to the raw upstream. */
export interface RawUpstreamConn {
  socket: net.Socket;
  request: { method: string; url: string; headers: Record<string, string> };
  in: FrameStream;
  /** Index in `in.frames` of the first frame after the connect act. */
  afterConnect: number;
  closed: Promise<void>;
  /** Frames received after the connect act. */
  relayed(): ParsedFrame[];
}

export interface RawUpstreamOptions {
  /**
   * The answer to the upgrade request, given the right Sec-WebSocket-Accept. Default: a
   * proper 101. Whatever bytes it returns are written in one write.
   */
  answer?: (accept: string) => Buffer | string;
  /** What to write once the connect act arrived; default the OnlyFans `connected` reply. */
  onConnectAct?: (conn: RawUpstreamConn) => void;
  /** Answer a close frame with the same close and end the socket (default true). */
  echoClose?: boolean;
}

export const CONNECTED_REPLY = '{"connected":true,"v":"5.4.0"}';

export interface RawUpstream {
  url: string;
  conns: RawUpstreamConn[];
  /** The n-th connection (0-based) once its connect act arrived. */
  conn(index?: number, timeoutMs?: number): Promise<RawUpstreamConn>;
  close(): Promise<void>;
}

/** A bare TCP server that does the server side of the upgrade and framing by hand. */
export async function startRawUpstream(options: RawUpstreamOptions = {}): Promise<RawUpstream> {
  const conns: RawUpstreamConn[] = [];
  const sockets = new Set<net.Socket>();
  const echoClose = options.echoClose ?? true;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.setNoDelay(true);
    void readHead(socket, 5000).then(
      ({ head, rest }) => {
        const lines = head.split('\r\n');
        const [method = '', url = ''] = (lines[0] ?? '').split(' ');
        const { headers } = parseHead(`HTTP/1.1 000\r\n${lines.slice(1).join('\r\n')}`);
        const accept = acceptFor(headers['sec-websocket-key'] ?? '');
        const answer = options.answer
          ? options.answer(accept)
          : `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`;
        socket.write(answer);
        const conn: RawUpstreamConn = {
          socket,
          request: { method, url, headers },
          in: new FrameStream(socket, rest),
          afterConnect: -1,
          closed: closedPromise(socket),
          relayed() {
            return conn.afterConnect < 0 ? [] : conn.in.frames.slice(conn.afterConnect);
          },
        };
        let echoed = false;
        const check = (): void => {
          if (conn.afterConnect < 0 && conn.in.frames.length > 0) {
            conn.afterConnect = 1;
            conn.in.skip(1);
            conns.push(conn);
            if (options.onConnectAct) options.onConnectAct(conn);
            else socket.write(frame(OP.text, CONNECTED_REPLY, { mask: false }));
          }
          const close = conn.in.frames.find((f) => f.opcode === OP.close);
          if (close && echoClose && !echoed && !socket.destroyed) {
            echoed = true;
            socket.end(frame(OP.close, close.payload, { mask: false }));
          }
        };
        socket.on('data', () => queueMicrotask(check));
        check();
      },
      () => socket.destroy(),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/ws3/1`,
    conns,
    async conn(index = 0, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (let i = 0; conns.length <= index; i++) {
        if (Date.now() > deadline || i > 10_000) throw new Error(`no upstream connection #${index} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 5));
      }
      return conns[index] as RawUpstreamConn;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
