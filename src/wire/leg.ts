/**
 * One leg of a relay after its WebSocket handshake: a TCP (or TLS) socket whose frames are
 * scanned, not re-framed (relay-engineering.md §C.4).
 *
 * The scanner reads each frame header as bytes arrive, checks it (RSV bits, masking,
 * opcodes, control-frame rules, the size and fragment limits, UTF-8 of text and close
 * reasons), counts whole messages, answers pings, runs the close handshake, and hands the
 * owner *runs* of raw bytes: every whole message of one TCP read that the owner accepted,
 * as one slice, so relaying a read's worth of messages is one write on the other leg.
 *
 * Raw frames are valid on the other leg unchanged: a client's frames are masked, which is
 * what the upstream (a server) requires, and an upstream's are not, which is what the client
 * requires (RFC 6455 §5.1). Neither leg negotiates extensions or subprotocols with the
 * other's peer, so RSV bits must be clear everywhere.
 */
import type { Socket } from 'node:net';
import { isUtf8 } from 'node:buffer';
import { fitCloseReason, isSendableCloseCode } from './close-codes.js';
import { closePayload, encodeFrame, Opcode, SERVER_PING, textIsValid, unmaskRange } from './frames.js';

export interface LegLimits {
  /** Largest message, in payload bytes (1009 past it). */
  maxPayload: number;
  /** Most frames in one fragmented message (1008 past it). */
  maxFragments: number;
  /** Most TCP reads buffered for one incomplete frame (1008 past it). */
  maxBufferedChunks: number;
  /** Time the peer has to finish the close handshake before the socket is destroyed. */
  closeTimeoutMs: number;
  /**
   * Writes that leave at least this much queued report their flush to the owner; above it, a
   * ping is answered once the queue drains, with one pong for the latest ping (RFC 6455 §5.5.3).
   */
  lowWaterBytes: number;
  /**
   * Bytes queued towards the peer past which it has stopped reading: the owner is told once
   * and the leg reads no more. Every frame the leg writes counts: relayed data, the gateway's
   * own messages, pings, pongs and close frames.
   */
  maxBufferedBytes: number;
}

/** A peer broke the protocol: the leg sends `closeCode` and stops reading. */
export class LegProtocolError extends Error {
  readonly closeCode: number;
  constructor(closeCode: number, message: string) {
    super(message);
    this.name = 'LegProtocolError';
    this.closeCode = closeCode;
  }
}

/** What a leg reports to whoever owns it (the upstream connector, then the relay). */
export interface LegOwner {
  /** A whole data message arrived. True relays its frames: they join the current run. */
  legMessage(leg: Leg, size: number, binary: boolean): boolean;
  /** Raw frames of accepted messages, in arrival order. */
  legData(leg: Leg, frames: Buffer): void;
  /** With `leg.payloads` set: a whole message's unmasked payload instead of raw frames. */
  legPayload(leg: Leg, payload: Buffer, binary: boolean): void;
  /** A pong that answers the leg's last ping (see {@link Leg.ping}). */
  legPong(leg: Leg): void;
  /** A write that left at least the low-water mark queued has been flushed. */
  legFlushed(leg: Leg): void;
  /** The peer stopped reading: more than `maxBufferedBytes` are queued towards it. Reported once. */
  legOverflow(leg: Leg): void;
  /** The peer sent a close frame (already answered); 1005 when it carried no code. */
  legCloseFrame(leg: Leg, code: number, reason: Buffer): void;
  /** The peer broke the protocol (a {@link LegProtocolError}) or the socket failed. */
  legError(leg: Leg, err: Error & { code?: string }): void;
  /** The socket is closed: the peer's close code, 1006 if it sent no close frame. */
  legClosed(leg: Leg, code: number, reason: Buffer): void;
}

/** An owner that ignores everything: for a leg between owners, or one being given up. */
export const IGNORING_OWNER: LegOwner = {
  legMessage: () => false,
  legData() {},
  legPayload() {},
  legPong() {},
  legFlushed() {},
  legOverflow() {},
  legCloseFrame() {},
  legError() {},
  legClosed() {},
};

const kLeg = Symbol('ofgw.leg');
type LegSocket = Socket & { [kLeg]: Leg };
const EMPTY: Buffer = Buffer.alloc(0);
/** A 64-bit length above 2^53 cannot be a real payload. */
const MAX_SAFE_HIGH_WORD = 0x1fffff;

export class Leg {
  readonly socket: Socket;
  owner: LegOwner;
  /** Hand over each accepted message as its own run (messages held before the confirmation). */
  batch = true;
  /** Deliver unmasked payloads through `legPayload` (the upstream's reply to the connect act). */
  payloads = false;
  /**
   * Reads are views of a buffer the socket reuses for its next read (`net.connect`'s `onread`):
   * whatever the leg hands over or keeps past {@link receive} is then a copy — runs, payloads,
   * an incomplete frame — so nothing refers to the buffer once the read is scanned.
   */
  borrowedReads = false;
  /** The gateway is the server on this leg: the peer masks its frames and we do not. */
  private readonly server: boolean;
  private readonly limits: LegLimits;
  private paused = false;
  /** Set on a protocol error: nothing more is read. */
  private failed = false;
  /** Bytes of an incomplete frame, and how many the whole frame needs (0: header incomplete). */
  private rest: Buffer[] | null = null;
  private restBytes = 0;
  private need = 0;
  /** The buffer being scanned and the accepted run in it. */
  private current: Buffer = EMPTY;
  private runStart = -1;
  private runEnd = 0;
  /** A fragmented message in progress: copies of its frames, and of its payload when needed. */
  private fragFrames: Buffer[] | null = null;
  private fragPayload: Buffer[] | null = null;
  private fragBytes = 0;
  private fragBinary = false;
  private closeSent = false;
  private closeReceived = false;
  private closeCode = 1006;
  private closeReason: Buffer = EMPTY;
  private closeTimer: NodeJS.Timeout | undefined;
  /** The one callback of writes whose flush matters (see {@link send}); made on first use. */
  private flushedCallback: ((err?: Error | null) => void) | undefined;
  /** Writes given the callback, and how many of them have been flushed (they complete in order). */
  private callbacksIssued = 0;
  private callbacksDone = 0;
  /** The callback number of the last ping; the ping has left the queue once it is done. */
  private pingTicket = 0;
  /** A ping that came while the queue was above the low-water mark: answered on the next flush. */
  private owedPong: Buffer | null = null;
  private overflowed = false;
  /** Where the message offered to `legMessage` lies in `current`; -1 for one assembled from fragments. */
  private msgAt = -1;
  private msgEnd = -1;
  /** The assembled payload of a fragmented message on offer (none for binary ones: not kept). */
  private fragMessage: Buffer | undefined;

  constructor(socket: Socket, server: boolean, limits: LegLimits, owner: LegOwner, head?: Buffer) {
    this.socket = socket;
    this.server = server;
    this.limits = limits;
    this.owner = owner;
    (socket as LegSocket)[kLeg] = this;
    socket.setTimeout(0);
    socket.setNoDelay(true);
    socket.on('data', socketOnData);
    socket.on('end', socketOnEnd);
    socket.on('close', socketOnClose);
    socket.on('error', socketOnError);
    if (head && head.length > 0) this.receive(head);
  }

  /** Bytes queued towards this leg's peer and not yet taken by the kernel. */
  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  /** True once the gateway sent its close frame: no more data may be written. */
  get closing(): boolean {
    return this.closeSent;
  }

  // ── writing ────────────────────────────────────────────────────────────────

  /** Relays frames from the other leg unchanged (dropped once this leg is closing). */
  write(frames: Buffer): void {
    if (!this.closeSent) this.send(frames);
  }

  /** A text message the gateway originates (confirmation, error frame, connect act). */
  sendText(text: string): void {
    if (!this.closeSent) this.send(encodeFrame(Opcode.Text, Buffer.from(text), !this.server));
  }

  /** A whole message the gateway sends from a payload (a logged event, replayed or live). */
  sendMessage(payload: Buffer, binary: boolean): void {
    if (!this.closeSent) this.send(encodeFrame(binary ? Opcode.Binary : Opcode.Text, payload, !this.server));
  }

  /**
   * A heartbeat ping. Until it has left the queue, no pong can be its answer: a peer that does
   * not read cannot have seen it, so pongs it sends meanwhile (RFC 6455 allows unsolicited
   * ones) do not reach {@link LegOwner.legPong}.
   */
  ping(): void {
    if (this.closeSent || !this.socket.writable) return;
    this.send(this.server ? SERVER_PING : encodeFrame(Opcode.Ping, EMPTY, true), true);
    this.pingTicket = this.callbacksIssued;
  }

  /**
   * While {@link LegOwner.legMessage} runs: the payload of the message on offer — a view into
   * the read on an unmasked leg, an unmasked copy on a masked one; undefined for a fragmented
   * binary message (its payload is not assembled).
   */
  messagePayload(): Buffer | undefined {
    if (this.msgAt < 0) return this.fragMessage;
    return payloadOf(this.current, this.msgAt, this.msgEnd, this.server);
  }

  /** True while the last ping is still queued on our side. */
  get pingQueued(): boolean {
    return this.callbacksDone < this.pingTicket;
  }

  /**
   * Every write goes through here, so one bound holds for all of them: past
   * `maxBufferedBytes` queued, the owner is told the peer stopped reading. A write that leaves
   * the low-water mark queued (or that `track`s) gets the leg's one flush callback.
   */
  private send(bytes: Buffer, track = false): void {
    const socket = this.socket;
    if (!socket.writable) return;
    if (track || socket.writableLength + bytes.length >= this.limits.lowWaterBytes) {
      this.callbacksIssued++;
      socket.write(bytes, (this.flushedCallback ??= () => this.flushed()));
    } else {
      socket.write(bytes);
    }
    if (socket.writableLength > this.limits.maxBufferedBytes && !this.overflowed) {
      this.overflowed = true;
      // Nothing more is read from a peer we cannot answer: its frames would only queue more.
      this.failed = true;
      this.owedPong = null;
      socket.pause();
      this.owner.legOverflow(this);
    }
  }

  private flushed(): void {
    this.callbacksDone++;
    const owed = this.owedPong;
    if (owed !== null && this.socket.writableLength < this.limits.lowWaterBytes) {
      this.owedPong = null;
      if (!this.closeSent) this.send(encodeFrame(Opcode.Pong, owed, !this.server));
    }
    this.owner.legFlushed(this);
  }

  /**
   * Starts (or answers) the close handshake. `code` undefined sends an empty close frame.
   * The peer has `closeTimeoutMs` to finish it before the socket is destroyed.
   */
  close(code?: number, reason: Buffer | string = EMPTY): void {
    if (this.closeSent || !this.socket.writable) return;
    this.closeSent = true;
    this.owedPong = null;
    this.send(encodeFrame(Opcode.Close, closePayload(code, fitCloseReason(reason)), !this.server));
    if (this.closeReceived || this.failed) this.end();
    this.closeTimer ??= setTimeout(closeTimedOut, this.limits.closeTimeoutMs, this);
  }

  /** Drops the connection without a close handshake (dead peers, last resort). */
  terminate(): void {
    this.socket.destroy();
  }

  // ── reading ────────────────────────────────────────────────────────────────

  /**
   * Stops reading from the peer (TCP backpressure). Frames of the read in progress are still
   * scanned: at most one read beyond the mark, and the limits still count them.
   */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
  }

  /**
   * Hands over the run accepted so far. The relay calls it before writing a frame of its
   * own to the other leg, so that the frame comes after the messages that preceded it.
   */
  flush(): void {
    if (this.runStart < 0) return;
    const current = this.current;
    // Usually the run is the whole read (one or more whole messages): no slice needed.
    const run = this.runStart === 0 && this.runEnd === current.length ? current : current.subarray(this.runStart, this.runEnd);
    this.runStart = -1;
    this.owner.legData(this, this.borrowedReads ? Buffer.from(run) : run);
  }

  /** @internal A read from the socket. */
  receive(chunk: Buffer): void {
    if (this.failed || this.closeReceived) return;
    const rest = this.rest;
    if (rest === null) {
      this.scan(chunk);
      return;
    }
    rest.push(this.borrowedReads ? Buffer.from(chunk) : chunk);
    this.restBytes += chunk.length;
    if (rest.length > this.limits.maxBufferedChunks) {
      this.protocolError(1008, `a frame arrived in more than ${this.limits.maxBufferedChunks} pieces`);
      return;
    }
    if (this.restBytes < this.need) return;
    this.scan(this.takeRest());
  }

  private keep(bytes: Buffer): void {
    this.rest = [this.borrowedReads ? Buffer.from(bytes) : bytes];
    this.restBytes = bytes.length;
  }

  private takeRest(): Buffer {
    const rest = this.rest as Buffer[];
    const buffered = rest.length === 1 ? (rest[0] as Buffer) : Buffer.concat(rest, this.restBytes);
    this.rest = null;
    this.restBytes = 0;
    this.need = 0;
    return buffered;
  }

  /** Scans whole frames from `buf`; keeps an incomplete last frame for the next read. */
  private scan(buf: Buffer): void {
    this.current = buf;
    const len = buf.length;
    const server = this.server;
    let pos = 0;
    while (!this.failed && !this.closeReceived) {
      const avail = len - pos;
      if (avail < 2) break;
      const b0 = buf[pos] as number;
      const b1 = buf[pos + 1] as number;
      let size = b1 & 0x7f;
      let at = pos + 2;
      if (size === 126) {
        if (avail < 4) break;
        size = buf.readUInt16BE(pos + 2);
        at = pos + 4;
      } else if (size === 127) {
        if (avail < 10) break;
        const high = buf.readUInt32BE(pos + 2);
        if (high > MAX_SAFE_HIGH_WORD) return this.scanFailed(pos, 1009, 'a frame length over 2^53 bytes');
        size = high * 2 ** 32 + buf.readUInt32BE(pos + 6);
        at = pos + 10;
      }
      const masked = (b1 & 0x80) !== 0;
      if (masked) at += 4;
      const opcode = b0 & 0x0f;
      const fin = (b0 & 0x80) !== 0;
      const problem = this.checkHeader(b0, opcode, fin, masked, server, size);
      if (problem !== undefined) return this.scanFailed(pos, problem.closeCode, problem.message);
      const end = at + size;
      if (end > len) {
        this.need = end - pos;
        break;
      }
      if (opcode >= 0x8) {
        this.flush();
        this.control(opcode, buf, at, end, masked);
      } else if (fin && opcode !== Opcode.Continuation) {
        const binary = opcode === Opcode.Binary;
        if (!binary && !textIsValid(buf, at, end, masked)) return this.scanFailed(pos, 1007, 'a text message that is not valid UTF-8');
        if (this.payloads) {
          this.flush();
          const payload = payloadOf(buf, at, end, masked);
          this.owner.legPayload(this, this.borrowedReads && !masked ? Buffer.from(payload) : payload, binary);
        } else {
          this.msgAt = at;
          this.msgEnd = end;
          if (this.owner.legMessage(this, size, binary)) {
            if (this.runStart < 0) this.runStart = pos;
            this.runEnd = end;
            if (!this.batch) this.flush();
          } else {
            this.flush();
          }
        }
      } else if (!this.fragment(buf, pos, at, end, opcode, fin, masked)) {
        return this.scanFailed(end, 0, '');
      }
      pos = end;
    }
    this.flush();
    this.current = EMPTY;
    if (pos < len && !this.failed && !this.closeReceived) {
      this.keep(pos === 0 ? buf : buf.subarray(pos));
    } else {
      this.need = 0;
    }
  }

  /** Header rules of RFC 6455 §5.2–§5.5 and the leg's limits; undefined when the header is fine. */
  private checkHeader(b0: number, opcode: number, fin: boolean, masked: boolean, server: boolean, size: number): LegProtocolError | undefined {
    if ((b0 & 0x70) !== 0) return new LegProtocolError(1002, 'a frame with a reserved bit set (no extension was negotiated)');
    if (masked !== server) return new LegProtocolError(1002, server ? 'an unmasked frame from a client' : 'a masked frame from a server');
    if (opcode >= 0x8) {
      if (opcode > Opcode.Pong) return new LegProtocolError(1002, `a frame with the unknown opcode ${opcode}`);
      if (!fin) return new LegProtocolError(1002, 'a fragmented control frame');
      if (size > 125) return new LegProtocolError(1002, 'a control frame over 125 bytes');
      return undefined;
    }
    if (opcode === Opcode.Continuation) {
      if (this.fragFrames === null) return new LegProtocolError(1002, 'a continuation frame with no message to continue');
      if (this.fragBytes + size > this.limits.maxPayload) return tooBig(this.limits.maxPayload);
      return undefined;
    }
    if (opcode > Opcode.Binary) return new LegProtocolError(1002, `a frame with the unknown opcode ${opcode}`);
    if (this.fragFrames !== null) return new LegProtocolError(1002, 'a new message inside a fragmented one');
    if (size > this.limits.maxPayload) return tooBig(this.limits.maxPayload);
    return undefined;
  }

  /**
   * A frame of a fragmented message: copied until the last one arrives, then the message is
   * handed over whole (the run is empty meanwhile, so nothing can be injected mid-message).
   * Returns false after a protocol error.
   */
  private fragment(buf: Buffer, pos: number, at: number, end: number, opcode: number, fin: boolean, masked: boolean): boolean {
    if (opcode !== Opcode.Continuation) {
      this.flush();
      this.fragFrames = [];
      this.fragBinary = opcode === Opcode.Binary;
      this.fragPayload = this.fragBinary && !this.payloads ? null : [];
      this.fragBytes = 0;
    }
    const frames = this.fragFrames as Buffer[];
    if (frames.length >= this.limits.maxFragments) {
      this.protocolError(1008, `a message in more than ${this.limits.maxFragments} fragments`);
      return false;
    }
    frames.push(Buffer.from(buf.subarray(pos, end)));
    this.fragPayload?.push(this.borrowedReads && !masked ? Buffer.from(buf.subarray(at, end)) : payloadOf(buf, at, end, masked));
    this.fragBytes += end - at;
    if (!fin) return true;
    const size = this.fragBytes;
    const binary = this.fragBinary;
    const payload = this.fragPayload === null ? EMPTY : Buffer.concat(this.fragPayload, size);
    this.fragFrames = null;
    this.fragPayload = null;
    this.fragBytes = 0;
    if (!binary && !isUtf8(payload)) {
      this.protocolError(1007, 'a text message that is not valid UTF-8');
      return false;
    }
    if (this.payloads) {
      this.owner.legPayload(this, payload, binary);
      return true;
    }
    this.msgAt = -1;
    this.fragMessage = this.fragPayload === null ? undefined : payload;
    const accepted = this.owner.legMessage(this, size, binary);
    this.fragMessage = undefined;
    if (accepted) this.owner.legData(this, frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames));
    return true;
  }

  private control(opcode: number, buf: Buffer, at: number, end: number, masked: boolean): void {
    if (opcode === Opcode.Pong) {
      if (!this.pingQueued) this.owner.legPong(this);
      return;
    }
    const payload = end > at ? payloadOf(buf, at, end, masked) : EMPTY;
    if (opcode === Opcode.Ping) {
      if (this.closeSent || !this.socket.writable) return;
      // A peer that pings faster than it reads gets one pong per drained queue, for its latest
      // ping, never a queue of pongs (RFC 6455 §5.5.3 allows exactly that).
      if (this.socket.writableLength >= this.limits.lowWaterBytes) this.owedPong = masked ? payload : Buffer.from(payload);
      else this.send(encodeFrame(Opcode.Pong, payload, !this.server));
      return;
    }
    // Close (RFC 6455 §5.5.1, §7.4).
    let code = 1005;
    let reason = EMPTY;
    if (payload.length === 1) return this.protocolError(1002, 'a close frame with a 1-byte payload');
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      if (!isSendableCloseCode(code)) return this.protocolError(1002, `a close frame with the invalid code ${code}`);
      reason = masked ? payload.subarray(2) : Buffer.from(payload.subarray(2));
      if (!isUtf8(reason)) return this.protocolError(1007, 'a close reason that is not valid UTF-8');
    }
    this.closeReceived = true;
    this.closeCode = code;
    this.closeReason = reason;
    if (this.closeSent) this.end();
    else this.close(code === 1005 ? undefined : code, reason);
    this.owner.legCloseFrame(this, code, reason);
  }

  /** Ends a scan at a protocol error found at `pos`: what came before it is still relayed. */
  private scanFailed(pos: number, closeCode: number, message: string): void {
    if (this.runStart >= 0 && this.runEnd > pos) this.runEnd = pos;
    this.flush();
    this.current = EMPTY;
    if (closeCode !== 0) this.protocolError(closeCode, message);
  }

  private protocolError(closeCode: number, message: string): void {
    if (this.failed) return;
    this.failed = true;
    this.rest = null;
    this.restBytes = 0;
    this.fragFrames = null;
    this.fragPayload = null;
    this.owner.legError(this, new LegProtocolError(closeCode, message));
    this.close(closeCode, message);
  }

  /** Ends our side of the TCP connection once (a second `end` costs an error object). */
  private end(): void {
    if (!this.socket.writableEnded) this.socket.end();
  }

  /** @internal */
  onEnd(): void {
    // The peer half-closed: finish our side too (upgrade sockets allow half-open).
    this.end();
  }

  /** @internal */
  onClose(): void {
    clearTimeout(this.closeTimer);
    this.rest = null;
    this.fragFrames = null;
    this.fragPayload = null;
    this.owner.legClosed(this, this.closeReceived ? this.closeCode : 1006, this.closeReason);
  }
}

function tooBig(limit: number): LegProtocolError {
  return new LegProtocolError(1009, `a message over ${limit} bytes`);
}

/** The payload, unmasked into a copy when the frame is masked (the frame stays as it came). */
function payloadOf(buf: Buffer, at: number, end: number, masked: boolean): Buffer {
  if (!masked) return buf.subarray(at, end);
  const payload = Buffer.from(buf.subarray(at, end));
  unmaskRange(payload, 0, payload.length, buf, at - 4);
  return payload;
}

function closeTimedOut(leg: Leg): void {
  leg.terminate();
}

function legOf(socket: Socket): Leg {
  return (socket as LegSocket)[kLeg];
}

// Socket listeners are module-level functions that find their leg through a symbol on the
// socket, so a leg allocates no closures.

function socketOnData(this: Socket, chunk: Buffer): void {
  legOf(this).receive(chunk);
}

function socketOnEnd(this: Socket): void {
  legOf(this).onEnd();
}

function socketOnClose(this: Socket): void {
  legOf(this).onClose();
}

function socketOnError(this: Socket, err: Error): void {
  const leg = legOf(this);
  leg.owner.legError(leg, err);
}
