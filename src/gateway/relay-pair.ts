/**
 * One relay: a customer's WebSocket (the client leg) and the model's OnlyFans socket (the
 * upstream leg), from the upgrade to the last close (contract §2–§4).
 *
 *   admitting ──checks 1–6──▶ connecting ──connected:true──▶ open ──▶ closing ──▶ finished
 *        └──────────── error frame + close code ─────────────┘
 *
 * Listeners are module-level functions that find their pair through a symbol on the socket
 * (the pattern `ws` itself uses), so relaying a message allocates no closure. Bytes and
 * frame type are forwarded untouched; pings stay on their own leg.
 */
import { randomUUID } from 'node:crypto';
import type WebSocket from 'ws';
import type { GatewayConfig } from '../config.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import { connectUpstream, type UpstreamAttempt, type UpstreamConnectError, type UpstreamHandlers, type UpstreamLimits } from '../upstream/connector.js';
import { RefreshError } from '../upstream/credential-refresh.js';
import { admitConnection, type Admission, type ConnectionRequest } from './admission.js';
import { BAD_GATEWAY, clientCloseCodeFor, fitCloseReason, upstreamCloseCodeFor } from './close-codes.js';
import { relayFinished, relayOpened } from './diagnostics.js';
import type { ConnectionLimits } from './limits/connection-limits.js';
import type { UpstreamHealth } from './upstream-health.js';

/** What every relay shares: limits, the store and the hooks into the gateway. */
export interface RelayContext {
  store: Store;
  health: UpstreamHealth;
  admissionLimits: ConnectionLimits;
  /** Client→upstream message rate for a plan. */
  messageRate(plan: string | null): { perSecond: number; burst: number };
  logger: Logger;
  limits: RelayLimits;
  upstreamLimits: UpstreamLimits;
  /**
   * Called once checks 1–6 pass, before the upstream is opened: indexes the relay, or
   * returns the limit it would cross.
   */
  onAdmitted(pair: RelayPair): GatewayError | undefined;
  /** Called once, when both legs are closed. */
  onFinished(pair: RelayPair): void;
}

/** The settings a relay enforces (documented with their defaults in src/config.ts). */
export type RelayLimits = Pick<
  GatewayConfig,
  'pendingMessages' | 'pendingBytes' | 'highWaterBytes' | 'lowWaterBytes' | 'hardCapBytes' | 'slowConsumerTimeoutMs'
>;

const enum State {
  Admitting,
  Connecting,
  Open,
  Closing,
  Finished,
}

const kPair = Symbol('ofgw.relayPair');
type PairedSocket = WebSocket & { [kPair]: RelayPair };

// Shared option objects: `send` copies them, so one instance each is enough.
const BINARY = { binary: true } as const;
const TEXT = { binary: false } as const;

/** ws's `OPEN` ready state, inlined to keep the value import of ws out of this module. */
const WS_OPEN = 1;
/** Hard pre-confirmation bound, as a multiple of the soft one at which the client is paused. */
const PENDING_HARD_FACTOR = 4;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Counters reported when a relay finishes. */
export interface RelayTraffic {
  messagesToUpstream: number;
  bytesToUpstream: number;
  messagesToClient: number;
  bytesToClient: number;
}

export class RelayPair implements UpstreamHandlers {
  readonly id = randomUUID();
  readonly client: WebSocket;
  readonly startedAt = Date.now();
  upstream: WebSocket | null = null;
  admission: Admission | null = null;
  /** The catalog code or `ok`, plus the close codes each leg saw, for the relay-closed log line. */
  outcome = 'ok';
  clientCloseCode: number | undefined;
  upstreamCloseCode: number | undefined;
  /** When the upstream attempt started; `openedAt - upstreamStartedAt` is the upstream's share. */
  upstreamStartedAt: number | undefined;
  openedAt: number | undefined;
  /** The store change sequence already applied when the checks began. */
  changeSeq = 0;
  readonly traffic: RelayTraffic = { messagesToUpstream: 0, bytesToUpstream: 0, messagesToClient: 0, bytesToClient: 0 };
  /** Liveness flags for the heartbeat sweep; set by pongs. */
  clientAlive = true;
  upstreamAlive = true;

  private state = State.Admitting;
  private readonly ctx: RelayContext;
  private pending: { data: Buffer; isBinary: boolean }[] | null = [];
  private pendingBytes = 0;
  private attempt: UpstreamAttempt | null = null;
  private messageRate = 1;
  private messageBurst = 1;
  private messageTokens = 0;
  private messageTokensAt = 0;
  /** Set once a rejected token was refreshed and retried: one retry per relay. */
  private retried = false;
  private clientPaused = false;
  private upstreamPaused = false;
  private clientClosed = false;
  private upstreamClosed = true;
  private upstreamFailure: string | undefined;
  private slowTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private readonly upstreamFlushed = (): void => this.resumeClientIfDrained();
  private readonly clientFlushed = (): void => this.resumeUpstreamIfDrained();

  constructor(client: WebSocket, ctx: RelayContext) {
    this.client = client;
    this.ctx = ctx;
    (client as PairedSocket)[kPair] = this;
    client.on('message', clientOnMessage);
    client.on('close', clientOnClose);
    client.on('error', clientOnError);
    client.on('pong', clientOnPong);
  }

  /** True once the confirmation was sent and until the relay starts closing. */
  get isOpen(): boolean {
    return this.state === State.Open;
  }

  /** Which legs the relay has stopped reading because the other leg is backed up. */
  get paused(): { client: boolean; upstream: boolean } {
    return { client: this.clientPaused, upstream: this.upstreamPaused };
  }

  /**
   * Runs the checks and opens the upstream; failures end as the contract's error frame.
   * `changeSeq` is the store change sequence already applied when the checks began.
   */
  async start(request: ConnectionRequest, changeSeq: number): Promise<void> {
    this.changeSeq = changeSeq;
    const limits = this.ctx.admissionLimits;
    const ipLimited = limits.checkIp(request.clientIp);
    if (ipLimited) return this.fail(ipLimited);
    let admission: Admission;
    try {
      admission = await admitConnection(this.ctx.store, request, { health: this.ctx.health, limits });
    } catch (err) {
      if (!(err instanceof GatewayError)) return this.failInternal(err);
      if (err.code === 'NO_API_KEY' || err.code === 'INVALID_API_KEY') limits.authFailed(request.clientIp);
      return this.fail(err);
    }
    if (this.state !== State.Admitting) return; // the client left during the checks
    this.admission = admission;
    const overLimit = this.ctx.onAdmitted(this);
    if (overLimit) return this.fail(overLimit);
    if (this.state !== State.Admitting) return; // a change seen since the checks closed it
    this.armKeyExpiry();
    const rate = this.ctx.messageRate(admission.plan);
    this.messageRate = rate.perSecond;
    this.messageBurst = rate.burst;
    this.messageTokens = rate.burst;
    this.messageTokensAt = Date.now();
    this.state = State.Connecting;
    this.upstreamStartedAt = Date.now();
    this.attempt = connectUpstream(admission.target, this.ctx.upstreamLimits, this);
  }

  /** {@link UpstreamHandlers.ready}: the upstream confirmed; open the relay. */
  ready(upstream: WebSocket): void {
    this.attempt = null;
    this.upstream = upstream;
    this.upstreamClosed = false;
    (upstream as PairedSocket)[kPair] = this;
    upstream.on('message', upstreamOnMessage);
    upstream.on('close', upstreamOnClose);
    upstream.on('error', upstreamOnError);
    upstream.on('pong', upstreamOnPong);
    if (this.state !== State.Connecting) {
      upstream.close(1000);
      return;
    }
    this.state = State.Open;
    this.openedAt = Date.now();
    this.client.send(JSON.stringify({ connected: true, modelId: this.admission?.modelId }));
    const held = this.pending ?? [];
    this.pending = null;
    this.pendingBytes = 0;
    for (const { data, isBinary } of held) {
      if (this.state !== State.Open) break; // a limit ended the relay mid-flush
      this.toUpstream(data, isBinary);
    }
    if (this.clientPaused && !this.upstreamIsBackedUp()) {
      this.clientPaused = false;
      this.client.resume();
    }
    this.ctx.logger.info(this.logFields(), 'relay opened');
    if (relayOpened.hasSubscribers) relayOpened.publish(this);
  }

  /** {@link UpstreamHandlers.failed}: check 7 failed. */
  failed(error: UpstreamConnectError): void {
    this.attempt = null;
    const admission = this.admission as Admission;
    if (error.stage === 'proxy') this.ctx.health.proxyFailed(admission, error);
    if (error.tokenRejected) {
      void this.onTokenRejected(admission, error);
      return;
    }
    this.fail(new GatewayError('WS_CONNECT_ERROR', error.message, { stage: error.stage }));
  }

  /**
   * Marks the token rejected; with a refresh endpoint, tries once more with fresh
   * credentials before giving up.
   */
  private async onTokenRejected(admission: Admission, error: UpstreamConnectError): Promise<void> {
    let message = error.message;
    try {
      await this.ctx.health.tokenRejected(admission, admission.target.wsToken, error);
      if (this.ctx.health.canRefresh && !this.retried && this.state === State.Connecting) {
        this.retried = true;
        const target = await this.ctx.health.refresh(admission, 'rejected');
        if (this.state !== State.Connecting) return;
        admission.target = target;
        this.attempt = connectUpstream(target, this.ctx.upstreamLimits, this);
        return;
      }
    } catch (err) {
      if (!(err instanceof RefreshError)) this.ctx.logger.error({ err, ...this.logFields() }, 'handling a rejected token failed');
      else message = `${message}; refreshing the credentials failed: ${err.message}`;
    }
    this.fail(new GatewayError('WS_CONNECT_ERROR', message, { stage: error.stage }));
  }

  /**
   * Ends the relay with a catalog error: the error frame, then the close code with the code
   * as reason. The upstream, if open, is closed normally.
   */
  fail(error: GatewayError): void {
    if (this.state >= State.Closing) return;
    this.outcome = error.code;
    this.beginClosing();
    if (this.client.readyState === WS_OPEN) {
      this.client.send(error.toFrame());
      this.client.close(error.closeCode, error.code);
    }
    this.closeUpstream(1000, '');
  }

  /** Graceful shutdown: 1012 to the client, 1001 (going away) upstream. */
  shutdown(): void {
    if (this.state >= State.Closing) return;
    this.outcome = 'SHUTDOWN';
    this.beginClosing();
    this.client.close(1012, 'gateway restarting');
    this.closeUpstream(1001, 'gateway restarting');
  }

  /**
   * Ends the relay at an operator's request: 1000 on both legs with reason "closed by
   * operator" (a normal close, which well-behaved clients do not blindly reconnect after).
   */
  closeByOperator(): void {
    if (this.state >= State.Closing) return;
    this.outcome = 'CLOSED_BY_OPERATOR';
    this.beginClosing();
    this.client.close(1000, 'closed by operator');
    this.closeUpstream(1000, '');
  }

  /** Last resort when a close handshake does not finish in time. */
  destroy(): void {
    this.client.terminate();
    this.upstream?.terminate();
    this.attempt?.abort();
  }

  /**
   * One heartbeat round (called by the sweep): a leg that did not answer the previous ping
   * is dead. A leg whose reading we paused cannot answer; the slow-consumer timer owns it.
   */
  heartbeat(): void {
    if (this.state !== State.Open) return;
    const upstream = this.upstream as WebSocket;
    if (!this.clientAlive && !this.clientPaused) {
      this.outcome = 'CLIENT_HEARTBEAT_TIMEOUT';
      this.client.terminate();
      return;
    }
    if (!this.upstreamAlive && !this.upstreamPaused) {
      this.upstreamFailure = 'upstream heartbeat timeout';
      upstream.terminate();
      return;
    }
    this.clientAlive = false;
    this.upstreamAlive = false;
    this.client.ping();
    upstream.ping();
  }

  logFields(): Record<string, unknown> {
    return {
      relay: this.id,
      orgId: this.admission?.orgId,
      keyId: this.admission?.key.id,
      modelId: this.admission?.modelId,
    };
  }

  // ── client leg ─────────────────────────────────────────────────────────────

  /** Messages before the confirmation are held in order, up to a bound (contract §4). */
  holdClientMessage(data: Buffer, isBinary: boolean): void {
    const pending = this.pending;
    if (!pending) return;
    pending.push({ data, isBinary });
    this.pendingBytes += data.length;
    const { pendingMessages, pendingBytes } = this.ctx.limits;
    if (pending.length > pendingMessages * PENDING_HARD_FACTOR || this.pendingBytes > pendingBytes * PENDING_HARD_FACTOR) {
      this.fail(
        new GatewayError(
          'RATE_LIMITED',
          `Too many messages before the relay opened (limit ${pendingMessages} messages or ${pendingBytes} bytes)`,
          { retryAfterMs: 1000 },
        ),
      );
      return;
    }
    if (!this.clientPaused && (pending.length >= pendingMessages || this.pendingBytes >= pendingBytes)) {
      this.clientPaused = true;
      this.client.pause();
    }
  }

  toUpstream(data: Buffer, isBinary: boolean): void {
    if (!this.takeMessageToken()) return;
    const upstream = this.upstream as WebSocket;
    const traffic = this.traffic;
    traffic.messagesToUpstream++;
    traffic.bytesToUpstream += data.length;
    // A write callback only on sends that leave the buffer at or above the low-water mark:
    // when the last of them is flushed the buffer is below it, so a paused client is always
    // resumed, and the fast path (an empty buffer) allocates nothing.
    const after = upstream.bufferedAmount + data.length;
    upstream.send(data, isBinary ? BINARY : TEXT, after >= this.ctx.limits.lowWaterBytes ? this.upstreamFlushed : undefined);
    if (after <= this.ctx.limits.highWaterBytes) return;
    const buffered = upstream.bufferedAmount;
    if (buffered > this.ctx.limits.hardCapBytes) {
      this.upstreamFailure = 'upstream stopped reading';
      upstream.terminate();
    } else if (buffered > this.ctx.limits.highWaterBytes && !this.clientPaused) {
      this.clientPaused = true;
      this.client.pause();
    }
  }

  onClientClose(code: number, reason: Buffer): void {
    this.clientClosed = true;
    this.clientCloseCode = code;
    if (this.state < State.Closing) {
      if (this.outcome === 'ok' && code !== 1000 && code !== 1001 && code !== 1005) this.outcome = 'CLIENT_CLOSED_ABNORMALLY';
      this.beginClosing();
      this.closeUpstream(upstreamCloseCodeFor(code), code === 1005 || code === 1006 ? '' : reason);
    }
    this.finishIfClosed();
  }

  // ── upstream leg ───────────────────────────────────────────────────────────

  toClient(data: Buffer, isBinary: boolean): void {
    const client = this.client;
    const traffic = this.traffic;
    traffic.messagesToClient++;
    traffic.bytesToClient += data.length;
    const after = client.bufferedAmount + data.length;
    client.send(data, isBinary ? BINARY : TEXT, after >= this.ctx.limits.lowWaterBytes ? this.clientFlushed : undefined);
    if (after <= this.ctx.limits.highWaterBytes) return;
    const buffered = client.bufferedAmount;
    if (buffered > this.ctx.limits.hardCapBytes) {
      this.fail(new GatewayError('SLOW_CONSUMER', `The client's buffer passed ${this.ctx.limits.hardCapBytes} bytes`));
    } else if (buffered > this.ctx.limits.highWaterBytes && !this.upstreamPaused) {
      this.upstreamPaused = true;
      (this.upstream as WebSocket).pause();
      this.slowTimer = setTimeout(slowConsumerTimeout, this.ctx.limits.slowConsumerTimeoutMs, this);
    }
  }

  onUpstreamClose(code: number, reason: Buffer): void {
    this.upstreamClosed = true;
    this.upstreamCloseCode = code;
    if (this.state < State.Closing) {
      this.beginClosing();
      if (this.upstreamFailure) {
        this.outcome = 'UPSTREAM_FAILED';
        this.client.close(BAD_GATEWAY, this.upstreamFailure);
      } else {
        const clientCode = clientCloseCodeFor(code);
        if (clientCode === BAD_GATEWAY) this.outcome = 'UPSTREAM_CLOSED_ABNORMALLY';
        this.client.close(clientCode, clientCode === code ? fitCloseReason(reason) : 'upstream closed without a close frame');
      }
    }
    this.finishIfClosed();
  }

  onUpstreamError(err: Error & { code?: string }): void {
    this.upstreamFailure ??= `upstream socket error: ${err.code ?? 'unknown'}`;
  }

  // ── internals ──────────────────────────────────────────────────────────────

  /** The plan's client→upstream message rate, as a token bucket refilled on use. */
  private takeMessageToken(): boolean {
    const now = Date.now();
    const tokens = Math.min(this.messageBurst, this.messageTokens + ((now - this.messageTokensAt) * this.messageRate) / 1000);
    this.messageTokensAt = now;
    if (tokens >= 1) {
      this.messageTokens = tokens - 1;
      return true;
    }
    this.messageTokens = tokens;
    const retryAfterMs = Math.ceil(((1 - tokens) * 1000) / this.messageRate);
    this.fail(new GatewayError('RATE_LIMITED', `More than ${this.messageRate} messages per second to OnlyFans`, { retryAfterMs }));
    return false;
  }

  private resumeClientIfDrained(): void {
    if (this.clientPaused && this.pending === null && !this.upstreamIsBackedUp()) {
      this.clientPaused = false;
      this.client.resume();
    }
  }

  private resumeUpstreamIfDrained(): void {
    if (this.upstreamPaused && this.client.bufferedAmount < this.ctx.limits.lowWaterBytes) {
      this.upstreamPaused = false;
      clearTimeout(this.slowTimer);
      this.upstream?.resume();
    }
  }

  private upstreamIsBackedUp(): boolean {
    return (this.upstream?.bufferedAmount ?? 0) >= this.ctx.limits.lowWaterBytes;
  }

  private beginClosing(): void {
    this.state = State.Closing;
    this.pending = null;
    clearTimeout(this.slowTimer);
    clearTimeout(this.expiryTimer);
    if (this.attempt) {
      this.attempt.abort();
      this.attempt = null;
    }
  }

  private closeUpstream(code: number, reason: Buffer | string): void {
    if (!this.upstream || this.upstreamClosed) return;
    this.upstream.close(code, reason);
  }

  private finishIfClosed(): void {
    if (this.state === State.Finished || !this.clientClosed || !this.upstreamClosed) return;
    this.state = State.Finished;
    // Published while the relay is still in its gateway's registry, so a subscriber can tell
    // its own gateway's relays from another's in the same process.
    if (relayFinished.hasSubscribers) relayFinished.publish(this);
    this.ctx.onFinished(this);
  }

  private armKeyExpiry(): void {
    const expiresAt = this.admission?.key.expiresAt;
    if (!expiresAt) return;
    const delay = new Date(expiresAt).getTime() - Date.now();
    this.expiryTimer = setTimeout(keyExpiryCheck, Math.max(0, Math.min(delay, MAX_TIMER_MS)), this);
  }

  /** Called by the expiry timer: long expiries are re-armed past setTimeout's 24.8-day cap. */
  checkKeyExpiry(): void {
    const expiresAt = this.admission?.key.expiresAt;
    if (!expiresAt) return;
    if (new Date(expiresAt).getTime() <= Date.now()) this.fail(new GatewayError('INVALID_API_KEY', 'The API key expired'));
    else this.armKeyExpiry();
  }

  /**
   * An unexpected failure (the store unreachable, a bug): no catalog code fits, so the client
   * gets the contract's 1011 and the details go to the log only.
   */
  private failInternal(err: unknown): void {
    this.ctx.logger.error({ err, ...this.logFields() }, 'relay failed unexpectedly');
    if (this.state >= State.Closing) return;
    this.outcome = 'INTERNAL_ERROR';
    this.beginClosing();
    if (this.client.readyState === WS_OPEN) this.client.close(1011, 'internal error');
    this.closeUpstream(1011, '');
  }
}

function slowConsumerTimeout(pair: RelayPair): void {
  pair.fail(new GatewayError('SLOW_CONSUMER', 'The client did not read its events in time'));
}

function keyExpiryCheck(pair: RelayPair): void {
  pair.checkKeyExpiry();
}

function pairOf(socket: WebSocket): RelayPair {
  return (socket as PairedSocket)[kPair];
}

// Listeners receive the socket as `this`. Both legs use the default binaryType
// ('nodebuffer'), so message data is always a single Buffer.

function clientOnMessage(this: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
  const pair = pairOf(this);
  if (pair.isOpen) pair.toUpstream(data as Buffer, isBinary);
  else pair.holdClientMessage(data as Buffer, isBinary);
}

function clientOnClose(this: WebSocket, code: number, reason: Buffer): void {
  pairOf(this).onClientClose(code, reason);
}

function clientOnError(this: WebSocket): void {
  // ws closes the socket itself after a protocol error (1002, 1007, 1009); 'close' follows.
}

function clientOnPong(this: WebSocket): void {
  pairOf(this).clientAlive = true;
}

function upstreamOnMessage(this: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
  const pair = pairOf(this);
  if (pair.isOpen) pair.toClient(data as Buffer, isBinary);
}

function upstreamOnClose(this: WebSocket, code: number, reason: Buffer): void {
  pairOf(this).onUpstreamClose(code, reason);
}

function upstreamOnError(this: WebSocket, err: Error): void {
  pairOf(this).onUpstreamError(err);
}

function upstreamOnPong(this: WebSocket): void {
  pairOf(this).upstreamAlive = true;
}
