/**
 * One relay: a customer's WebSocket (the client leg) and the model's OnlyFans socket (the
 * upstream leg), from the upgrade to the last close (contract §2–§4).
 *
 *   admitting ──checks 1–6──▶ connecting ──connected:true──▶ open ──▶ closing ──▶ finished
 *        └──────────── error frame + close code ─────────────┘
 *
 * Both legs are {@link Leg}s: frames are scanned, counted and checked, then relayed as the
 * bytes that arrived — a read's worth of messages in one write — so bytes, frame type and
 * fragmentation reach the other side untouched. Pings stay on their own leg.
 */
import { flatUuid } from '../wire/frames.js';
import { LegProtocolError, type Leg, type LegOwner } from '../wire/leg.js';
import type { GatewayConfig } from '../config.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import { connectUpstream, type UpstreamTarget, type UpstreamAttempt, type UpstreamConnectError, type UpstreamHandlers, type UpstreamLimits } from '../upstream/connector.js';
import { RefreshError } from '../upstream/credential-refresh.js';
import { CONNECTED_REPLY_MAX_BYTES, isConnectedReply } from '../upstream/replies.js';
import { admitConnection, type Admission, type ConnectionRequest } from './admission.js';
import { BAD_GATEWAY, clientCloseCodeFor, upstreamCloseCodeFor } from '../wire/close-codes.js';
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
   * returns the limit it would cross. Rejects when the cluster-wide limits cannot be checked
   * (Redis unavailable).
   */
  onAdmitted(pair: RelayPair): GatewayError | undefined | Promise<GatewayError | undefined>;
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

/** Hard pre-confirmation bound, as a multiple of the soft one at which the client is paused. */
const PENDING_HARD_FACTOR = 4;
const MAX_TIMER_MS = 2 ** 31 - 1;

interface HeldMessage {
  frames: Buffer;
  size: number;
}

/** Counters reported when a relay finishes. */
export interface RelayTraffic {
  messagesToUpstream: number;
  bytesToUpstream: number;
  messagesToClient: number;
  bytesToClient: number;
}

export class RelayPair implements UpstreamHandlers, LegOwner {
  readonly id = flatUuid();
  readonly client: Leg;
  readonly startedAt = Date.now();
  upstream: Leg | null = null;
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
  /** Client messages held before the confirmation: each one's raw frames and payload size. */
  private pending: HeldMessage[] | null = [];
  private pendingBytes = 0;
  /** The size of the held message whose frames come next (messages are held one by one). */
  private heldSize = 0;
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

  /** `client` is the accepted client leg; its owner becomes this relay. */
  constructor(client: Leg, ctx: RelayContext) {
    this.client = client;
    this.ctx = ctx;
    client.owner = this;
    // Until the confirmation each message is held on its own, so the rate limit can count
    // them when they are released.
    client.batch = false;
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
    let overLimit: GatewayError | undefined;
    try {
      overLimit = await this.ctx.onAdmitted(this);
    } catch (err) {
      return this.failUncoordinated(err);
    }
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
    this.attempt = connectUpstream(admission.target as UpstreamTarget, this.ctx.upstreamLimits, this);
  }

  /** {@link UpstreamHandlers.ready}: the upstream confirmed; open the relay. */
  ready(upstream: Leg): void {
    this.attempt = null;
    // The credentials were for opening the socket: a live relay keeps no secret.
    if (this.admission) this.admission.target = null;
    this.upstream = upstream;
    this.upstreamClosed = false;
    upstream.owner = this;
    if (this.state !== State.Connecting) {
      upstream.close(1000);
      return;
    }
    this.state = State.Open;
    this.openedAt = Date.now();
    this.client.sendText(JSON.stringify({ connected: true, modelId: this.admission?.modelId }));
    const held = this.pending ?? [];
    this.pending = null;
    this.pendingBytes = 0;
    this.client.batch = true;
    for (const { frames, size } of held) {
      if (this.state !== State.Open || !this.meterToUpstream(size)) break; // a limit ended the relay mid-flush
      this.toUpstream(frames);
    }
    if (this.clientPaused && !this.upstreamIsBackedUp()) {
      this.clientPaused = false;
      this.client.resume();
    }
    if (this.ctx.logger.isLevelEnabled('info')) this.ctx.logger.info(this.logFields(), 'relay opened');
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
      await this.ctx.health.tokenRejected(admission, (admission.target as UpstreamTarget).wsToken, error);
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
    this.client.sendText(error.toFrame());
    this.client.close(error.closeCode, error.code);
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
    const upstream = this.upstream as Leg;
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

  // ── legs (LegOwner) ─────────────────────────────────────────────────────────

  /**
   * A whole message arrived on a leg; true relays it. Client messages are metered and
   * rate-limited (held before the confirmation), upstream ones metered.
   *
   * A `connected: true` reply from the upstream is consumed, whenever it comes: the first is the
   * handshake's (the connector's), a later one answers a connect act the client sent itself.
   * To a client, a frame with `connected: true` is the gateway's confirmation (contract §2 and
   * the §8 examples branch on it), so relaying OnlyFans' would read as a second confirmation.
   */
  legMessage(leg: Leg, size: number): boolean {
    if (leg === this.client) {
      if (this.state === State.Open) return this.meterToUpstream(size);
      return this.pending !== null && this.admitHeld(size);
    }
    if (this.state !== State.Open) return false;
    if (size <= CONNECTED_REPLY_MAX_BYTES && isConnectedReply(leg.messagePayload())) return false;
    const traffic = this.traffic;
    traffic.messagesToClient++;
    traffic.bytesToClient += size;
    return true;
  }

  /** The raw frames of messages {@link legMessage} accepted. */
  legData(leg: Leg, frames: Buffer): void {
    if (leg === this.client) {
      if (this.state === State.Open) this.toUpstream(frames);
      else this.pending?.push({ frames: Buffer.from(frames), size: this.heldSize });
    } else if (this.state === State.Open) {
      this.toClient(frames);
    }
  }

  legPayload(): void {
    // Payload delivery is the connector's, before the relay owns the upstream leg.
  }

  legPong(leg: Leg): void {
    if (leg === this.client) this.clientAlive = true;
    else this.upstreamAlive = true;
  }

  legFlushed(leg: Leg): void {
    if (leg === this.client) this.resumeUpstreamIfDrained();
    else this.resumeClientIfDrained();
  }

  /**
   * A peer stopped reading: more than hardCapBytes are queued towards it, whatever the frames
   * (events, pongs, the gateway's own). A client ends with SLOW_CONSUMER; an upstream is dropped
   * and the client gets 1014.
   */
  legOverflow(leg: Leg): void {
    if (leg === this.client) {
      this.fail(new GatewayError('SLOW_CONSUMER', `The client's buffer passed ${this.ctx.limits.hardCapBytes} bytes`));
    } else {
      this.upstreamFailure ??= 'upstream stopped reading';
      leg.terminate();
    }
  }

  legCloseFrame(leg: Leg, code: number, reason: Buffer): void {
    if (leg === this.client) this.clientClosing(code, reason);
    else this.upstreamClosing(code, reason);
  }

  legError(leg: Leg, err: Error & { code?: string }): void {
    const protocol = err instanceof LegProtocolError;
    if (leg === this.upstream) {
      this.upstreamFailure ??= protocol ? `upstream sent ${err.message}` : `upstream socket error: ${err.code ?? 'unknown'}`;
      // The leg closes itself; a socket error is followed by its close.
      if (protocol && this.state < State.Closing) this.closeForFailedUpstream(this.upstreamFailure);
      return;
    }
    // A client that breaks the protocol (1002, 1007, 1008, 1009) gets that code; its relay
    // ends and the upstream is told the same code. Socket errors are followed by a close.
    if (protocol && this.state < State.Closing) {
      this.outcome = 'CLIENT_PROTOCOL_ERROR';
      this.clientCloseCode = err.closeCode;
      this.beginClosing();
      this.closeUpstream(err.closeCode, '');
    }
  }

  legClosed(leg: Leg, code: number, reason: Buffer): void {
    if (leg === this.client) {
      this.clientClosing(code, reason);
      this.clientClosed = true;
      this.clientCloseCode ??= code;
    } else {
      this.upstreamClosing(code, reason);
      this.upstreamClosed = true;
      this.upstreamCloseCode ??= code;
    }
    this.finishIfClosed();
  }

  // ── client leg ─────────────────────────────────────────────────────────────

  /**
   * Messages before the confirmation are held in order, up to a bound (contract §4): at the
   * bound the client is paused; past four times it the relay ends with RATE_LIMITED.
   */
  private admitHeld(size: number): boolean {
    const pending = this.pending as HeldMessage[];
    const count = pending.length + 1;
    this.pendingBytes += size;
    this.heldSize = size;
    const { pendingMessages, pendingBytes } = this.ctx.limits;
    if (count > pendingMessages * PENDING_HARD_FACTOR || this.pendingBytes > pendingBytes * PENDING_HARD_FACTOR) {
      this.fail(
        new GatewayError(
          'RATE_LIMITED',
          `Too many messages before the relay opened (limit ${pendingMessages} messages or ${pendingBytes} bytes)`,
          { retryAfterMs: 1000 },
        ),
      );
      return false;
    }
    if (!this.clientPaused && (count >= pendingMessages || this.pendingBytes >= pendingBytes)) {
      this.clientPaused = true;
      this.client.pause();
    }
    return true;
  }

  /** Relays to the upstream; above the high-water mark the client is paused (past the hard cap: {@link legOverflow}). */
  private toUpstream(frames: Buffer): void {
    const upstream = this.upstream as Leg;
    upstream.write(frames);
    if (upstream.bufferedAmount <= this.ctx.limits.highWaterBytes || this.clientPaused || this.upstreamFailure) return;
    this.clientPaused = true;
    this.client.pause();
  }

  /** The client closed (its close frame, or the socket without one: 1006). */
  private clientClosing(code: number, reason: Buffer): void {
    if (this.state >= State.Closing) return;
    this.clientCloseCode = code;
    if (this.outcome === 'ok' && code !== 1000 && code !== 1001 && code !== 1005) this.outcome = 'CLIENT_CLOSED_ABNORMALLY';
    this.beginClosing();
    this.closeUpstream(upstreamCloseCodeFor(code), code === 1005 || code === 1006 ? '' : reason);
  }

  // ── upstream leg ───────────────────────────────────────────────────────────

  /** Relays to the client; above the high-water mark the upstream is paused (past the hard cap: {@link legOverflow}). */
  private toClient(frames: Buffer): void {
    const client = this.client;
    client.write(frames);
    if (client.bufferedAmount <= this.ctx.limits.highWaterBytes || this.upstreamPaused || this.state !== State.Open) return;
    this.upstreamPaused = true;
    (this.upstream as Leg).pause();
    this.slowTimer = setTimeout(slowConsumerTimeout, this.ctx.limits.slowConsumerTimeoutMs, this);
  }

  /** The upstream closed (its close frame, or the socket without one: 1006). */
  private upstreamClosing(code: number, reason: Buffer): void {
    if (this.state >= State.Closing) return;
    this.upstreamCloseCode = code;
    if (this.upstreamFailure) {
      this.closeForFailedUpstream(this.upstreamFailure);
    } else {
      this.beginClosing();
      const clientCode = clientCloseCodeFor(code);
      if (clientCode === BAD_GATEWAY) this.outcome = 'UPSTREAM_CLOSED_ABNORMALLY';
      this.client.close(clientCode, clientCode === code ? reason : 'upstream closed without a close frame');
    }
  }

  /** The upstream failed (protocol error, dead heartbeat, write stall): 1014 with the cause. */
  private closeForFailedUpstream(failure: string): void {
    this.beginClosing();
    this.outcome = 'UPSTREAM_FAILED';
    this.client.close(BAD_GATEWAY, failure);
  }

  // ── internals ──────────────────────────────────────────────────────────────

  /** Counts a client message towards the plan's rate and the traffic totals; false once over the rate. */
  private meterToUpstream(size: number): boolean {
    if (!this.takeMessageToken()) return false;
    const traffic = this.traffic;
    traffic.messagesToUpstream++;
    traffic.bytesToUpstream += size;
    return true;
  }

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
    if (this.clientPaused && this.pending === null && this.state === State.Open && !this.upstreamIsBackedUp()) {
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
    // Messages already accepted from a read in progress go out before any close frame.
    this.client.flush();
    this.upstream?.flush();
    this.state = State.Closing;
    // Nothing is relayed any more, so nothing needs holding back: read on, to see each
    // peer's close frame.
    this.client.resume();
    this.upstream?.resume();
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

  /**
   * The key's end moved after admission (a rotation's grace period, read from the change
   * feed on whichever node the rotation was made): the relay closes at the new end instead.
   */
  keyExpiryChanged(expiresAt: string | null): void {
    const key = this.admission?.key;
    if (!key || this.state >= State.Closing || key.expiresAt === expiresAt) return;
    key.expiresAt = expiresAt;
    this.armKeyExpiry();
  }

  private armKeyExpiry(): void {
    clearTimeout(this.expiryTimer);
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
   * The cluster-wide limits could not be checked (Redis away): the contract's 1011, with a
   * reason that says why; nothing was opened upstream.
   */
  private failUncoordinated(err: unknown): void {
    this.ctx.logger.warn({ ...this.logFields(), error: (err as Error).message }, 'relay refused: cluster coordination unavailable');
    this.closeUnexpectedly('COORDINATION_UNAVAILABLE', 'cluster coordination unavailable');
  }

  /**
   * An unexpected failure (the store unreachable, a bug): no catalog code fits, so the client
   * gets the contract's 1011 and the details go to the log only.
   */
  private failInternal(err: unknown): void {
    this.ctx.logger.error({ err, ...this.logFields() }, 'relay failed unexpectedly');
    this.closeUnexpectedly('INTERNAL_ERROR', 'internal error');
  }

  /** The contract's 1011 on both legs (an upstream not opened yet has nothing to close). */
  private closeUnexpectedly(outcome: string, reason: string): void {
    if (this.state >= State.Closing) return;
    this.outcome = outcome;
    this.beginClosing();
    this.client.close(1011, reason);
    this.closeUpstream(1011, '');
  }
}

function slowConsumerTimeout(pair: RelayPair): void {
  pair.fail(new GatewayError('SLOW_CONSUMER', 'The client did not read its events in time'));
}

function keyExpiryCheck(pair: RelayPair): void {
  pair.checkKeyExpiry();
}
