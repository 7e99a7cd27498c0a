/**
 * An in-process stand-in for the OnlyFans real-time WebSocket server, faithful to
 * shared/reference/onlyfans-ws-protocol.md: `/ws3/<n>` and `/ws2/` paths (§1), the `connect`
 * act and its spaced reply (§2), `get_onlines` (§4–§5), compact event frames (§6) and the
 * failure modes clients have to survive (§7, §9), switchable at run time as faults.
 *
 * Decisions the reference leaves open (§10), made here and relied on by tests:
 * - every close the simulator starts on its own is code 1000 with a short reason naming the
 *   cause ("authentication failed", "invalid command", "idle timeout", "connect timeout"),
 *   and 1001 on shutdown; clients must not depend on the reason text;
 * - a first frame that is not a valid `connect` act gets `{"error":1}` and that close;
 * - the idle timeout counts data frames only: WebSocket pings do not keep a socket alive;
 * - an HTTP request without an upgrade on a WebSocket path gets 426, any other path 404.
 *
 * The relay path (push, client frames) does no logging and at most one JSON encode or parse
 * per frame, so the simulator can serve benchmarks.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { isSendableCloseCode } from '../wire/close-codes.js';
import { createControlHandler } from './control-api.js';
import { counters } from './events.js';
import { FaultStore, parseFault, type ScopedFault } from './faults.js';
import { startGenerator } from './generator.js';
import { ConnectionPeaks, type ConnectionCounts } from './peaks.js';
import { mulberry32, randomSeed, type Rng } from './rng.js';
import { NumberedStreams, type StreamOptions, type StreamStatus } from './streams.js';
import { randomSecret, signToken, userKey, verifyToken, type TokenCheck } from './tokens.js';

/** How to run a simulator; every field is optional. */
export interface SimulatorOptions {
  /** Interface to listen on; default '127.0.0.1'. */
  host?: string;
  /** Port; default 0 (ephemeral, read it back from `port`). */
  port?: number;
  /** Server version in the connect reply; default '5.4.0' (CHT capture, 2026). */
  version?: string;
  /** HMAC secret for issued tokens; default random per instance. */
  secret?: string;
  /** After the connect reply, send a `{"chat_messages":N,"count_priority_chat":N,"unread_tips":N}` frame; default false. */
  initialCounters?: boolean;
  /** Periodic realistic events to every authenticated socket; default false. */
  generator?: false | { intervalMs: number };
  /** Seed for generated frames (generator and initial counters); default random. */
  seed?: number;
  /**
   * A frame without a string `act` after connect closes the socket after this delay (real OF
   * dropped sockets ~20 s after `{}` keepalives); default 20000, false = ignore such frames.
   */
  invalidCommandCloseMs?: number | false;
  /** Close a socket after this long without a client data frame; default false. */
  idleTimeoutMs?: number | false;
  /** Close a socket that has not completed `connect` after this long; default 30000. */
  connectTimeoutMs?: number;
  /**
   * Serve wss:// with this PEM key and certificate (real OnlyFans is wss:// only); default
   * plain ws://, for tests and the local sandbox.
   */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

/** One HTTP upgrade request as received. */
export interface HandshakeRecord {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  at: number;
  remoteAddress: string | undefined;
}

/** A frame a client sent after authenticating. */
export interface ReceivedFrame {
  userId: string;
  data: Buffer;
  isBinary: boolean;
}

/** Failure modes to inject (§2.3, §4.4, §7, §9). */
export type SimulatorFault =
  /** Reply `{"error": N}` (default 1) to connect, then close. */
  | { kind: 'reject-token'; errorCode?: number }
  /** Never reply to connect (the connect timeout still closes the socket). */
  | { kind: 'silence' }
  /** Answer the HTTP upgrade with a non-101 status (default 503) and a short body; global only. */
  | { kind: 'refuse'; status?: number }
  /** Destroy the TCP connection abruptly (RST, no close frame): on the upgrade, or for a user-scoped fault on that user's connect. */
  | { kind: 'reset' }
  /** Stop answering WebSocket pings. */
  | { kind: 'no-pong' }
  /** Stop reading from sockets so the peer's writes back up. */
  | { kind: 'slow-reads' }
  /** Accept expired tokens but send no events to them (still answer get_onlines). */
  | { kind: 'stop-content-after-exp' };

/** A running simulator. */
export interface OnlyFansSimulator {
  readonly port: number;
  readonly host: string;
  /** e.g. ws://127.0.0.1:PORT/ws3/24 (24 is the shard DOV hardcodes). */
  wsUrl(shard?: number): string;
  /** A JWT-shaped token (HS256 with the instance secret) with `sub` = userId and `exp`; a negative ttl makes an already-expired token. */
  issueToken(input: { userId: number | string; ttlSeconds?: number }): string;
  /**
   * Sends a frame to every authenticated socket of that user: a string as a text frame, a
   * Buffer as a binary frame, an object as compact JSON text; `binary` overrides the frame type.
   * Returns how many sockets got it.
   */
  push(userId: number | string, frame: string | Buffer | object, options?: { binary?: boolean }): number;
  /**
   * Applies a fault to new connections (and, for no-pong/slow-reads, to live ones too);
   * `userId` scopes it to that user's token. Throws RangeError for an invalid fault, including
   * a user-scoped `refuse` (the upgrade happens before the token names the user).
   */
  setFault(fault: SimulatorFault, scope?: { userId?: number | string }): void;
  /** Removes every fault and resumes sockets paused by slow-reads. */
  clearFaults(): void;
  /** Resets (default: TCP RST, no close frame) or cleanly closes the user's live sockets; returns the count. */
  dropConnections(userId: number | string, how?: { code?: number; reason?: string } | 'reset'): number;
  /** Every upgrade request received, oldest first (the last 1000); a live view, not a copy. */
  readonly handshakes: readonly HandshakeRecord[];
  /** Authenticated live sockets, optionally for one user. */
  connectionCount(userId?: number | string): number;
  /** Frames received from clients after authentication, oldest first (the last 10,000); a live view. */
  readonly received: readonly ReceivedFrame[];
  /** Replaces the set of fan ids that `get_onlines` reports as online. */
  setOnline(ids: Array<number | string>): void;
  /**
   * Starts (or replaces) the user's numbered stream: `api2_chat_message` frames with the text
   * `stream #<n>` (read it with `streamSequence`) to every authenticated socket of the user, n
   * = 1, 2, 3, … per user, continuing across sockets and streams. Throws RangeError naming a
   * bad option (`perSecond` above 1000, a `count` that is not a positive integer).
   */
  startStream(userId: number | string, options: StreamOptions): StreamStatus;
  /** Stops the user's stream, if one runs; its numbering continues with the next stream. */
  stopStream(userId: number | string): StreamStatus;
  /** The user's stream, including the numbers that reached at least one socket. */
  streamStatus(userId: number | string): StreamStatus;
  /** Authenticated live sockets of the user; the same as `connectionCount(userId)`. */
  currentConnections(userId: number | string): number;
  /**
   * The most sockets the user held at once since the last reset, each counted from its
   * accepted upgrade (before it authenticated) until its close.
   */
  peakConnections(userId: number | string): number;
  /** Starts a new peak window: each user's peak becomes their current count. */
  resetPeaks(): void;
  /** Closes every socket and the listener; resolves when no handle is left. */
  close(): Promise<void>;
}

/** Starts a simulator listening on `host:port`. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<OnlyFansSimulator> {
  const simulator = new Simulator(options);
  await simulator.listen(options.port ?? 0);
  return simulator;
}

const HANDSHAKE_LIMIT = 1000;
const RECEIVED_LIMIT = 10_000;
const MAX_PAYLOAD = 8 * 1024 * 1024;
const SHUTDOWN_GRACE_MS = 1000;
const DEFAULT_SHARD = 24;
const WS_PATH = /^\/ws3\/\d+$|^\/ws2\/?$/;
const EMPTY_ONLINE = '{"online":[]}';

type ConnectionState = 'awaiting-connect' | 'silenced' | 'authenticated' | 'closing';

interface Connection {
  readonly ws: WebSocket;
  readonly socket: Duplex;
  /** `performance.now()` when the upgrade was accepted: the start of its span in the peaks. */
  readonly upgradedAt: number;
  state: ConnectionState;
  /** Set once authenticated. */
  userId: string | undefined;
  /** Token expiry, unix seconds. */
  exp: number;
  lastFrameAt: number;
  connectTimer: NodeJS.Timeout | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  invalidTimer: NodeJS.Timeout | undefined;
}

/** Extra views the HTTP control API needs beyond the public interface. */
export interface SimulatorInternals {
  readonly simulator: OnlyFansSimulator;
  connectionsByUser(): Record<string, number>;
  activeFaults(): ScopedFault[];
  onlineIds(): string[];
  connectionPeaks(): Record<string, ConnectionCounts>;
}

class Simulator implements OnlyFansSimulator, SimulatorInternals {
  readonly host: string;
  readonly simulator: OnlyFansSimulator = this;
  private readonly server: Server;
  private readonly scheme: 'ws' | 'wss';
  private readonly wss: WebSocketServer;
  private readonly secret: string;
  private readonly rng: Rng;
  private readonly connectedReply: string;
  private readonly initialCounters: boolean;
  private readonly invalidCommandCloseMs: number | false;
  private readonly idleTimeoutMs: number | false;
  private readonly connectTimeoutMs: number;
  private readonly generatorIntervalMs: number | undefined;
  private readonly all = new Set<Connection>();
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly faults = new FaultStore();
  private readonly streams: NumberedStreams;
  private readonly peaks: ConnectionPeaks;
  private online = new Set<string>();
  private readonly handshakeLog: HandshakeRecord[] = [];
  private readonly receivedLog: ReceivedFrame[] = [];
  private stopGenerator: (() => void) | undefined;
  private boundPort = 0;
  private closing: Promise<void> | undefined;
  private onDrained: (() => void) | undefined;

  constructor(options: SimulatorOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.secret = options.secret ?? randomSecret();
    this.rng = mulberry32(options.seed ?? randomSeed());
    // The spaced style is what real clients saw (DOV compared it byte for byte, §2.2).
    this.connectedReply = `{"connected": true, "v": ${JSON.stringify(options.version ?? '5.4.0')}}`;
    this.initialCounters = options.initialCounters ?? false;
    this.invalidCommandCloseMs = delayOption('invalidCommandCloseMs', options.invalidCommandCloseMs ?? 20_000);
    this.idleTimeoutMs = delayOption('idleTimeoutMs', options.idleTimeoutMs ?? false);
    this.connectTimeoutMs = delayOption('connectTimeoutMs', options.connectTimeoutMs ?? 30_000);
    this.generatorIntervalMs = options.generator === undefined || options.generator === false
      ? undefined
      : delayOption('generator.intervalMs', options.generator.intervalMs);
    this.streams = new NumberedStreams({ push: (userId, frame) => this.push(userId, frame) }, this.rng);
    // A socket can authenticate up to the connect timeout after its upgrade (plus timer slack).
    this.peaks = new ConnectionPeaks(this.connectTimeoutMs + 1000);
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: MAX_PAYLOAD,
      // Pongs are sent by hand so the no-pong fault can withhold them.
      autoPong: false,
    });
    const control = createControlHandler(this);
    const onRequest: RequestListener = (req, res) => {
      const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
      if (path.startsWith('/_sim/')) return control(req, res);
      const status = WS_PATH.test(path) ? 426 : 404;
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(status === 426 ? 'WebSocket upgrade required\n' : 'not found\n');
    };
    this.scheme = options.tls ? 'wss' : 'ws';
    this.server = options.tls ? createTlsServer({ key: options.tls.key, cert: options.tls.cert }, onRequest) : createServer(onRequest);
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.onUpgrade(req, socket, head),
    );
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, this.host, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        this.boundPort = typeof address === 'object' && address !== null ? address.port : port;
        if (this.generatorIntervalMs !== undefined) {
          this.stopGenerator = startGenerator(
            { users: () => this.byUser.keys(), push: (userId, frame) => this.push(userId, frame) },
            this.generatorIntervalMs,
            this.rng,
          );
        }
        resolve();
      });
    });
  }

  get port(): number {
    return this.boundPort;
  }

  get handshakes(): readonly HandshakeRecord[] {
    return trimmed(this.handshakeLog, HANDSHAKE_LIMIT);
  }

  get received(): readonly ReceivedFrame[] {
    return trimmed(this.receivedLog, RECEIVED_LIMIT);
  }

  wsUrl(shard: number = DEFAULT_SHARD): string {
    if (!Number.isSafeInteger(shard) || shard < 0) throw new RangeError('shard must be a non-negative integer');
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `${this.scheme}://${host}:${this.boundPort}/ws3/${shard}`;
  }

  issueToken(input: { userId: number | string; ttlSeconds?: number }): string {
    const ttl = input.ttlSeconds ?? 86_400;
    if (!Number.isSafeInteger(ttl)) throw new RangeError('ttlSeconds must be an integer');
    return signToken(this.secret, userKey(input.userId), Math.floor(Date.now() / 1000), ttl);
  }

  push(userId: number | string, frame: string | Buffer | object, options?: { binary?: boolean }): number {
    const sockets = this.byUser.get(String(userId));
    if (sockets === undefined) return 0;
    const binary = options?.binary ?? Buffer.isBuffer(frame);
    // Encoded once, however many sockets the user has.
    const data = Buffer.isBuffer(frame)
      ? frame
      : Buffer.from(typeof frame === 'string' ? frame : JSON.stringify(frame));
    const cutoff = this.contentCutoff(String(userId));
    let delivered = 0;
    for (const conn of sockets) {
      if (conn.exp <= cutoff || conn.ws.readyState !== WebSocket.OPEN) continue;
      conn.ws.send(data, { binary });
      delivered++;
    }
    return delivered;
  }

  setFault(fault: SimulatorFault, scope?: { userId?: number | string }): void {
    const userId = scope?.userId === undefined ? undefined : userKey(scope.userId);
    const parsed = parseFault(fault, userId);
    this.faults.set(parsed, userId);
    if (parsed.kind === 'slow-reads') {
      for (const conn of userId === undefined ? this.all : (this.byUser.get(userId) ?? [])) conn.ws.pause();
    }
  }

  clearFaults(): void {
    this.faults.clear();
    for (const conn of this.all) if (conn.ws.isPaused) conn.ws.resume();
  }

  dropConnections(userId: number | string, how: { code?: number; reason?: string } | 'reset' = 'reset'): number {
    const sockets = [...(this.byUser.get(String(userId)) ?? [])];
    if (how === 'reset') {
      for (const conn of sockets) resetSocket(conn.socket);
      return sockets.length;
    }
    const code = how.code ?? 1000;
    const reason = how.reason ?? '';
    if (!isSendableCloseCode(code)) throw new RangeError(`close code ${code} cannot be sent in a close frame`);
    if (Buffer.byteLength(reason) > 123) throw new RangeError('close reason must fit in 123 bytes');
    for (const conn of sockets) this.closeConnection(conn, code, reason);
    return sockets.length;
  }

  connectionCount(userId?: number | string): number {
    if (userId !== undefined) return this.byUser.get(String(userId))?.size ?? 0;
    let total = 0;
    for (const sockets of this.byUser.values()) total += sockets.size;
    return total;
  }

  setOnline(ids: Array<number | string>): void {
    this.online = new Set(ids.map((id) => String(id)));
  }

  connectionsByUser(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const [userId, sockets] of this.byUser) counts[userId] = sockets.size;
    return counts;
  }

  activeFaults(): ScopedFault[] {
    return this.faults.list();
  }

  onlineIds(): string[] {
    return [...this.online];
  }

  startStream(userId: number | string, options: StreamOptions): StreamStatus {
    if (this.closing !== undefined) throw new Error('the simulator is closed');
    return this.streams.start(userKey(userId), options);
  }

  stopStream(userId: number | string): StreamStatus {
    return this.streams.stop(userKey(userId));
  }

  streamStatus(userId: number | string): StreamStatus {
    return this.streams.status(userKey(userId));
  }

  currentConnections(userId: number | string): number {
    return this.peaks.current(userKey(userId));
  }

  peakConnections(userId: number | string): number {
    return this.peaks.peak(userKey(userId));
  }

  resetPeaks(): void {
    this.peaks.reset();
  }

  connectionPeaks(): Record<string, ConnectionCounts> {
    return this.peaks.snapshot();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.stopGenerator?.();
    this.streams.stopAll();
    for (const conn of this.all) {
      // A paused socket could not read the peer's close reply.
      if (conn.ws.isPaused) conn.ws.resume();
      this.closeConnection(conn, 1001, 'simulator shutting down');
    }
    if (this.all.size > 0) {
      await new Promise<void>((resolve) => {
        const grace = setTimeout(resolve, SHUTDOWN_GRACE_MS);
        this.onDrained = () => {
          clearTimeout(grace);
          resolve();
        };
      });
      // Peers that did not answer the close frame in time.
      for (const conn of this.all) conn.socket.destroy();
    }
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A peer resetting mid-handshake must not become an uncaught 'error'.
    socket.on('error', ignore);
    this.handshakeLog.push({
      path: req.url ?? '',
      headers: { ...req.headers },
      at: Date.now(),
      remoteAddress: req.socket.remoteAddress,
    });
    if (this.handshakeLog.length >= HANDSHAKE_LIMIT * 2) trimmed(this.handshakeLog, HANDSHAKE_LIMIT);

    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (this.closing !== undefined) return rejectUpgrade(socket, 503, 'simulator shutting down');
    if (!WS_PATH.test(path)) return rejectUpgrade(socket, 404, 'no WebSocket endpoint at this path');
    // Only global faults can act here: the user is unknown until the connect act.
    if (this.faults.has('reset', undefined)) return resetSocket(socket);
    const refuse = this.faults.find('refuse', undefined);
    if (refuse !== undefined) return rejectUpgrade(socket, refuse.status ?? 503, 'simulated refusal');
    const upgradedAt = performance.now();
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, socket, upgradedAt));
  }

  private onConnection(ws: WebSocket, socket: Duplex, upgradedAt: number): void {
    const conn: Connection = {
      ws,
      socket,
      upgradedAt,
      state: 'awaiting-connect',
      userId: undefined,
      exp: 0,
      lastFrameAt: Date.now(),
      connectTimer: undefined,
      idleTimer: undefined,
      invalidTimer: undefined,
    };
    this.all.add(conn);
    // ws reports protocol violations (bad UTF-8, oversized frames) here and closes by itself.
    ws.on('error', ignore);
    ws.on('message', (data, isBinary) => this.onMessage(conn, data, isBinary));
    ws.on('ping', (data) => {
      if (ws.readyState === WebSocket.OPEN && !this.faults.has('no-pong', conn.userId)) ws.pong(data);
    });
    ws.on('close', () => this.onClose(conn));
    conn.connectTimer = setTimeout(() => this.closeConnection(conn, 1000, 'connect timeout'), this.connectTimeoutMs);
    if (this.idleTimeoutMs !== false) this.armIdleTimer(conn, this.idleTimeoutMs, this.idleTimeoutMs);
    if (this.faults.has('slow-reads', undefined)) ws.pause();
  }

  private onMessage(conn: Connection, raw: RawData, isBinary: boolean): void {
    if (this.idleTimeoutMs !== false) conn.lastFrameAt = Date.now();
    const data = toBuffer(raw);
    if (conn.state === 'authenticated') {
      this.receivedLog.push({ userId: conn.userId ?? '', data, isBinary });
      if (this.receivedLog.length >= RECEIVED_LIMIT * 2) trimmed(this.receivedLog, RECEIVED_LIMIT);
      this.onCommand(conn, data);
    } else if (conn.state === 'awaiting-connect') {
      this.onConnect(conn, data);
    }
    // 'silenced' and 'closing' swallow everything.
  }

  private onConnect(conn: Connection, data: Buffer): void {
    const message = parseJson(data);
    const token = isRecord(message) && message.act === 'connect' && typeof message.token === 'string'
      ? message.token
      : undefined;
    const check: TokenCheck = token === undefined
      ? { status: 'invalid' }
      : verifyToken(this.secret, token, Date.now() / 1000);
    const userId = check.status === 'invalid' ? undefined : check.userId;

    if (this.faults.has('reset', userId)) return resetSocket(conn.socket);
    if (this.faults.has('silence', userId)) {
      // The connect timer stays armed, so a silenced socket does not linger forever.
      conn.state = 'silenced';
      return;
    }
    const reject = this.faults.find('reject-token', userId);
    if (reject !== undefined) return this.rejectAuth(conn, reject.errorCode ?? 1);
    if (check.status === 'invalid') return this.rejectAuth(conn, 1);
    if (check.status === 'expired' && !this.faults.has('stop-content-after-exp', check.userId)) {
      return this.rejectAuth(conn, 1);
    }
    this.authenticate(conn, check.userId, check.exp);
  }

  private authenticate(conn: Connection, userId: string, exp: number): void {
    clearTimeout(conn.connectTimer);
    conn.state = 'authenticated';
    conn.userId = userId;
    conn.exp = exp;
    let sockets = this.byUser.get(userId);
    if (sockets === undefined) {
      sockets = new Set();
      this.byUser.set(userId, sockets);
    }
    sockets.add(conn);
    this.peaks.opened(userId, conn, conn.upgradedAt);
    conn.ws.send(this.connectedReply);
    if (this.initialCounters && conn.exp > this.contentCutoff(userId)) {
      conn.ws.send(JSON.stringify(counters(this.rng)));
    }
    if (this.faults.has('slow-reads', userId)) conn.ws.pause();
  }

  private rejectAuth(conn: Connection, errorCode: number): void {
    conn.ws.send(`{"error":${errorCode}}`);
    this.closeConnection(conn, 1000, 'authentication failed');
  }

  private onCommand(conn: Connection, data: Buffer): void {
    const message = parseJson(data);
    const act = isRecord(message) ? message.act : undefined;
    if (typeof act !== 'string') {
      if (this.invalidCommandCloseMs !== false && conn.invalidTimer === undefined) {
        conn.invalidTimer = setTimeout(
          () => this.closeConnection(conn, 1000, 'invalid command'),
          this.invalidCommandCloseMs,
        );
      }
      return;
    }
    // A repeated connect, ping, typing and unknown acts are accepted silently (§5, CHT comment).
    if (act === 'get_onlines' && isRecord(message)) conn.ws.send(this.onlineReply(message.ids));
  }

  /** The requested ids that are online, each in the JSON type it was asked in. */
  private onlineReply(ids: unknown): string {
    if (!Array.isArray(ids) || ids.length === 0 || this.online.size === 0) return EMPTY_ONLINE;
    const online = ids.filter(
      (id: unknown) => (typeof id === 'string' || typeof id === 'number') && this.online.has(String(id)),
    );
    return online.length === 0 ? EMPTY_ONLINE : JSON.stringify({ online });
  }

  /**
   * Content to this user's sockets is withheld when their token expired at or before the
   * returned time (unix seconds); -Infinity when the stop-content-after-exp fault is off.
   */
  private contentCutoff(userId: string): number {
    return this.faults.has('stop-content-after-exp', userId) ? Date.now() / 1000 : -Infinity;
  }

  private armIdleTimer(conn: Connection, idleMs: number, delayMs: number): void {
    // One timer per socket, re-armed for the remainder, so frames only store a timestamp.
    conn.idleTimer = setTimeout(() => {
      const quietMs = Date.now() - conn.lastFrameAt;
      if (quietMs >= idleMs) this.closeConnection(conn, 1000, 'idle timeout');
      else this.armIdleTimer(conn, idleMs, idleMs - quietMs);
    }, delayMs);
  }

  private closeConnection(conn: Connection, code: number, reason: string): void {
    conn.state = 'closing';
    clearConnectionTimers(conn);
    conn.ws.close(code, reason);
  }

  private onClose(conn: Connection): void {
    clearConnectionTimers(conn);
    conn.state = 'closing';
    this.all.delete(conn);
    if (conn.userId !== undefined) {
      const sockets = this.byUser.get(conn.userId);
      sockets?.delete(conn);
      if (sockets?.size === 0) this.byUser.delete(conn.userId);
      this.peaks.closed(conn.userId, conn);
    }
    if (this.all.size === 0) this.onDrained?.();
  }
}

/** Rejects delays that would make a timer spin or never fire. */
function delayOption<T extends number | false>(name: string, value: T): T {
  if (typeof value === 'number' && !(Number.isFinite(value) && value > 0)) {
    throw new RangeError(`${name} must be a positive number of milliseconds`);
  }
  return value;
}

function clearConnectionTimers(conn: Connection): void {
  clearTimeout(conn.connectTimer);
  clearTimeout(conn.idleTimer);
  clearTimeout(conn.invalidTimer);
}

/** Drops the oldest entries beyond `limit` (amortised: callers trim only at twice the limit). */
function trimmed<T>(log: T[], limit: number): T[] {
  if (log.length > limit) log.splice(0, log.length - limit);
  return log;
}

function rejectUpgrade(socket: Duplex, status: number, message: string): void {
  const body = `${message}\n`;
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

/** A TCP RST where possible (what GM sees as "reset without closing handshake", §7). */
function resetSocket(socket: Duplex): void {
  if (socket instanceof Socket) socket.resetAndDestroy();
  else socket.destroy();
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

function parseJson(data: Buffer): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function ignore(): void {}
