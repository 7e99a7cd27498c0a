/**
 * The client side of one customer connection: the customer's WebSocket from the upgrade to
 * its close — admission (contract §2 checks 1–6), limits, the held messages before the
 * confirmation, the message rate, key expiry and the reactions to store changes (§3). What
 * is behind it — the model's own OnlyFans socket (relay mode) or its shared session — is a
 * {@link ClientLink}, chosen once the model is known.
 *
 *   admitting ──checks 1–6──▶ linking ──link opens──▶ open ──▶ closing ──▶ finished
 *        └────────── error frame + close code ──────────┘
 */
import { flatUuid } from '../wire/frames.js';
import { LegProtocolError, type Leg, type LegOwner } from '../wire/leg.js';
import { upstreamCloseCodeFor } from '../wire/close-codes.js';
import type { GatewayConfig } from '../config.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import { admitConnection, type Admission, type ConnectionRequest } from './admission.js';
import type { ClientLink, LinkHost } from './client-link.js';
import { readDeliveryQuery, RAW_QUERY, type DeliveryQuery } from './delivery-query.js';
import { relayFinished, relayOpened, type ObservedConnection, type RelayTraffic } from '../diagnostics.js';
import type { ConnectionLimits } from './limits/connection-limits.js';
import type { UpstreamHealth } from './upstream-health.js';
import { KeyExpiry } from './key-expiry.js';
import type { ModelMembership } from './relay-registry.js';
import type { TrackedConnection } from './tracked-connection.js';

/** What every connection shares: limits, the store and the hooks into the gateway. */
export interface ConnectionContext {
  store: Store;
  health: UpstreamHealth;
  admissionLimits: ConnectionLimits;
  /** Client→upstream message rate for a plan. */
  messageRate(plan: string | null): { perSecond: number; burst: number };
  logger: Logger;
  limits: ConnectionSettings;
  /**
   * Called once checks 1–6 pass, before the link opens: indexes the connection, or returns
   * the limit it would cross. Rejects when the cluster-wide limits cannot be checked.
   */
  onAdmitted(member: ModelMembership): GatewayError | undefined | Promise<GatewayError | undefined>;
  /** A model left a socket that stays open (a multi-model socket): un-index it, release its slot. */
  onLeft(member: ModelMembership): void;
  /** The upstream side for an admitted connection: a relay of its own or a session's. */
  createLink(host: LinkHost): ClientLink;
  /** Called once, when the client's socket and the link are both closed. */
  onFinished(conn: ClientConnection): void;
}

/** The settings a connection enforces (documented with their defaults in src/config.ts). */
export type ConnectionSettings = Pick<
  GatewayConfig,
  'pendingMessages' | 'pendingBytes' | 'highWaterBytes' | 'lowWaterBytes' | 'hardCapBytes' | 'slowConsumerTimeoutMs'
>;

const enum State {
  Admitting,
  Linking,
  Open,
  Closing,
  Finished,
}

/** Why the client's socket is not being read (several may hold at once). */
export const enum Pause {
  /** Too many messages held before the confirmation. */
  Pending = 1,
  /** The upstream side is backed up. */
  Upstream = 2,
}

/** Hard pre-confirmation bound, as a multiple of the soft one at which the client is paused. */
const PENDING_HARD_FACTOR = 4;

interface HeldMessage {
  frames: Buffer;
  payload: Buffer | undefined;
  binary: boolean;
  size: number;
}

export type { RelayTraffic };

export class ClientConnection implements LegOwner, LinkHost, ObservedConnection, TrackedConnection, ModelMembership {
  readonly id = flatUuid();
  readonly client: Leg;
  readonly startedAt = Date.now();
  link: ClientLink | null = null;
  /** Set once checks 1–6 passed. */
  admission: Admission | null = null;
  query: DeliveryQuery = RAW_QUERY;
  /** The catalog code or `ok`, plus the close codes each side saw, for the relay-closed log line. */
  outcome = 'ok';
  clientCloseCode: number | undefined;
  /** When the link started; `openedAt - upstreamStartedAt` is the upstream side's share. */
  upstreamStartedAt: number | undefined;
  openedAt: number | undefined;
  /** The store change sequence already applied when the checks began. */
  changeSeq = 0;
  readonly traffic: RelayTraffic = { messagesToUpstream: 0, bytesToUpstream: 0, messagesToClient: 0, bytesToClient: 0 };
  /** Liveness flag for the heartbeat sweep; set by pongs. */
  clientAlive = true;

  private state = State.Admitting;
  protected readonly ctx: ConnectionContext;
  /** Client messages held before the confirmation. */
  private pending: HeldMessage[] | null = [];
  private pendingBytes = 0;
  /** The message on offer in legMessage, completed by legData. */
  private offered: Omit<HeldMessage, 'frames'> | null = null;
  private messageRate = 1;
  private messageBurst = 1;
  private messageTokens = 0;
  private messageTokensAt = 0;
  private pauses = 0;
  private clientClosed = false;
  private linkDone = true;
  private readonly expiry = new KeyExpiry(() => this.fail(new GatewayError('INVALID_API_KEY', 'The API key expired')));

  /** `client` is the accepted client leg; its owner becomes this connection. */
  constructor(client: Leg, ctx: ConnectionContext) {
    this.client = client;
    this.ctx = ctx;
    client.owner = this;
    // Until the confirmation each message is held on its own, so the rate limit can count
    // them when they are released.
    client.batch = false;
  }

  get logger(): Logger {
    return this.ctx.logger;
  }

  /** A single-model connection is its own (only) membership. */
  get connection(): ClientConnection {
    return this;
  }

  get slotId(): string {
    return this.id;
  }

  /** The models this connection serves, as the registry indexes them. */
  memberships(): Iterable<ModelMembership> {
    return [this];
  }

  /** True until checks and limits are done and the link is asked for (false once it left meanwhile). */
  protected get admitting(): boolean {
    return this.state === State.Admitting;
  }

  /** True once the confirmation was sent and until the connection starts closing. */
  get isOpen(): boolean {
    return this.state === State.Open;
  }

  /** The relay's own upstream leg, in relay mode. */
  get upstream(): Leg | null {
    return this.link?.upstream ?? null;
  }

  get upstreamCloseCode(): number | undefined {
    return this.link?.upstreamCloseCode;
  }

  /** Which sides are not being read because the other is backed up. */
  get paused(): { client: boolean; upstream: boolean } {
    return { client: this.pauses !== 0, upstream: this.link?.upstreamPaused === true };
  }

  /**
   * Runs the checks and opens the link; failures end as the contract's error frame.
   * `query` is the request's query string (format, since).
   */
  async start(request: ConnectionRequest, changeSeq: number, query = ''): Promise<void> {
    this.changeSeq = changeSeq;
    let admission: Admission;
    try {
      admission = await this.ctx.admissionLimits.admitFrom(request.clientIp, () => this.admit(request, query));
    } catch (err) {
      return err instanceof GatewayError ? this.fail(err) : this.failInternal(err);
    }
    if (this.state !== State.Admitting) return; // the client left during the checks
    this.admission = admission;
    let overLimit: GatewayError | undefined;
    try {
      overLimit = await this.countAgainstLimits();
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
    this.state = State.Linking;
    this.upstreamStartedAt = Date.now();
    this.linkDone = false;
    try {
      this.link = this.ctx.createLink(this);
      this.link.start();
    } catch (err) {
      this.linkDone = true;
      this.failInternal(err);
    }
  }

  /**
   * Checks 1–6 for what the request asks: here the one model of the path, in the format the
   * query chose. @throws {GatewayError} the first check that failed.
   */
  protected async admit(request: ConnectionRequest, query: string): Promise<Admission> {
    this.query = readDeliveryQuery(query);
    return admitConnection(this.ctx.store, request, { health: this.ctx.health, limits: this.ctx.admissionLimits });
  }

  /** Counts the admitted connection against its limits (indexing it): the limit crossed, if any. */
  protected async countAgainstLimits(): Promise<GatewayError | undefined> {
    return this.ctx.onAdmitted(this);
  }

  // ── LinkHost ───────────────────────────────────────────────────────────────

  open(confirmation: string): void {
    if (this.state !== State.Linking) return;
    this.state = State.Open;
    this.openedAt = Date.now();
    this.client.sendText(confirmation);
    const held = this.pending ?? [];
    this.pending = null;
    this.pendingBytes = 0;
    this.client.batch = true;
    const link = this.link as ClientLink;
    for (const m of held) {
      if (this.state !== State.Open || !this.meterToUpstream(m.size)) break; // a limit ended it mid-flush
      link.fromClient(m.frames, m.payload, m.binary);
    }
    this.resumeClient(Pause.Pending);
    if (this.ctx.logger.isLevelEnabled('info')) this.ctx.logger.info(this.logFields(), 'relay opened');
    if (relayOpened.hasSubscribers) relayOpened.publish(this);
  }

  delivered(bytes: number): void {
    this.traffic.messagesToClient++;
    this.traffic.bytesToClient += bytes;
  }

  /** Stops reading the client (the upstream side is backed up). */
  pauseClient(reason: Pause = Pause.Upstream): void {
    if (this.pauses === 0) this.client.pause();
    this.pauses |= reason;
  }

  resumeClient(reason: Pause = Pause.Upstream): void {
    if ((this.pauses & reason) === 0) return;
    this.pauses &= ~reason;
    if (this.pauses === 0 && this.state < State.Closing) this.client.resume();
  }

  get clientPaused(): boolean {
    return this.pauses !== 0;
  }

  linkClosed(): void {
    this.linkDone = true;
    this.finishIfClosed();
  }

  /**
   * Ends the connection with a catalog error: the error frame, then the close code with the
   * code as reason. The upstream side, if open, is closed normally.
   */
  fail(error: GatewayError): void {
    if (this.state >= State.Closing) return;
    this.outcome = error.code;
    this.beginClosing();
    this.client.sendText(error.toFrame());
    this.client.close(error.closeCode, error.code);
    this.link?.close(1000, '');
  }

  /** A plain close from the upstream side (1014 upstream failed, the upstream's own code…). */
  close(code: number, reason: Buffer | string, outcome: string): void {
    if (this.state >= State.Closing) return;
    if (outcome !== 'ok') this.outcome = outcome;
    this.beginClosing();
    this.client.close(code, reason);
  }

  /** Graceful shutdown: 1012 to the client, 1001 (going away) upstream. */
  shutdown(): void {
    if (this.state >= State.Closing) return;
    this.outcome = 'SHUTDOWN';
    this.beginClosing();
    this.client.close(1012, 'gateway restarting');
    this.link?.close(1001, 'gateway restarting');
  }

  /**
   * Ends the connection at an operator's request: 1000 with reason "closed by operator" (a
   * normal close, which well-behaved clients do not blindly reconnect after).
   */
  closeByOperator(): void {
    if (this.state >= State.Closing) return;
    this.outcome = 'CLOSED_BY_OPERATOR';
    this.beginClosing();
    this.client.close(1000, 'closed by operator');
    this.link?.close(1000, '');
  }

  /**
   * The model switched between relay and session mode: 1012 (reconnect), so the client comes
   * back into the new mode — a relay's own socket closes, keeping one socket per session model.
   */
  deliveryChanged(delivery: string): void {
    if (this.state >= State.Closing) return;
    this.outcome = 'DELIVERY_CHANGED';
    this.beginClosing();
    this.client.close(1012, `the model's delivery mode changed to ${delivery}: reconnect`);
    this.link?.close(1000, '');
  }

  /** Last resort when a close handshake does not finish in time. */
  destroy(): void {
    this.client.terminate();
    this.link?.destroy();
  }

  /**
   * One heartbeat round (called by the sweep): a client that did not answer the previous ping
   * is dead. A client whose reading we paused cannot answer; the slow-consumer timer owns it.
   */
  heartbeat(): void {
    if (this.state !== State.Open) return;
    if (!this.clientAlive && this.pauses === 0) {
      this.outcome = 'CLIENT_HEARTBEAT_TIMEOUT';
      this.client.terminate();
      return;
    }
    this.clientAlive = false;
    this.client.ping();
    this.link?.heartbeat();
  }

  logFields(): Record<string, unknown> {
    return {
      relay: this.id,
      orgId: this.admission?.orgId,
      keyId: this.admission?.key.id,
      modelId: this.admission?.modelId,
    };
  }

  // ── the client leg (LegOwner) ───────────────────────────────────────────────

  /**
   * A whole client message arrived; true relays its frames. Metered and rate-limited once
   * open, held before. A link that parses client frames gets the payload instead.
   */
  legMessage(leg: Leg, size: number, binary: boolean): boolean {
    if (this.state === State.Open) {
      if (!this.meterToUpstream(size)) return false;
      const link = this.link as ClientLink;
      if (!link.parsesClientFrames) return true;
      link.fromClient(EMPTY, leg.messagePayload(), binary);
      return false;
    }
    if (this.pending === null || !this.admitHeld(size)) return false;
    const payload = leg.messagePayload();
    this.offered = { payload: payload && Buffer.from(payload), binary, size };
    return true;
  }

  /** The raw frames of messages {@link legMessage} accepted. */
  legData(_leg: Leg, frames: Buffer): void {
    if (this.state === State.Open) {
      this.link?.fromClient(frames, undefined, false);
    } else if (this.pending && this.offered) {
      this.pending.push({ frames: Buffer.from(frames), ...this.offered });
      this.offered = null;
    }
  }

  legPayload(): void {
    // The client leg delivers frames, never payloads.
  }

  legPong(): void {
    this.clientAlive = true;
  }

  legFlushed(): void {
    this.link?.clientDrained();
  }

  /** The client stopped reading: more than hardCapBytes are queued towards it. */
  legOverflow(): void {
    this.fail(new GatewayError('SLOW_CONSUMER', `The client's buffer passed ${this.ctx.limits.hardCapBytes} bytes`));
  }

  legCloseFrame(_leg: Leg, code: number, reason: Buffer): void {
    this.clientClosing(code, reason);
  }

  legError(_leg: Leg, err: Error & { code?: string }): void {
    // A client that breaks the protocol (1002, 1007, 1008, 1009) gets that code; its relay
    // ends and the upstream is told the same code. Socket errors are followed by a close.
    if (err instanceof LegProtocolError && this.state < State.Closing) {
      this.outcome = 'CLIENT_PROTOCOL_ERROR';
      this.clientCloseCode = err.closeCode;
      this.beginClosing();
      this.link?.close(err.closeCode, '');
    }
  }

  legClosed(_leg: Leg, code: number, reason: Buffer): void {
    this.clientClosing(code, reason);
    this.clientClosed = true;
    this.clientCloseCode ??= code;
    this.finishIfClosed();
  }

  // ── internals ──────────────────────────────────────────────────────────────

  /**
   * Messages before the confirmation are held in order, up to a bound (contract §4): at the
   * bound the client is paused; past four times it the connection ends with RATE_LIMITED.
   */
  private admitHeld(size: number): boolean {
    const pending = this.pending as HeldMessage[];
    const count = pending.length + 1;
    this.pendingBytes += size;
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
    if (count >= pendingMessages || this.pendingBytes >= pendingBytes) this.pauseClient(Pause.Pending);
    return true;
  }

  /** The client closed (its close frame, or the socket without one: 1006). */
  private clientClosing(code: number, reason: Buffer): void {
    if (this.state >= State.Closing) return;
    this.clientCloseCode = code;
    if (this.outcome === 'ok' && code !== 1000 && code !== 1001 && code !== 1005) this.outcome = 'CLIENT_CLOSED_ABNORMALLY';
    this.beginClosing();
    this.link?.clientClosing(upstreamCloseCodeFor(code), code === 1005 || code === 1006 ? '' : reason);
  }

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

  private beginClosing(): void {
    // Messages already accepted from a read in progress go out before any close frame.
    this.client.flush();
    this.link?.upstream?.flush();
    this.state = State.Closing;
    // Nothing is relayed any more, so nothing needs holding back: read on, to see the
    // client's close frame.
    this.pauses = 0;
    this.client.resume();
    this.pending = null;
    this.expiry.clear();
  }

  private finishIfClosed(): void {
    if (this.state === State.Finished || !this.clientClosed || !this.linkDone) return;
    this.state = State.Finished;
    // Published while the connection is still in its gateway's registry, so a subscriber can
    // tell its own gateway's connections from another's in the same process.
    if (relayFinished.hasSubscribers) relayFinished.publish(this);
    this.ctx.onFinished(this);
  }

  /**
   * The key's end moved after admission (a rotation's grace period, read from the change
   * feed on whichever node the rotation was made): the connection closes at the new end.
   */
  keyExpiryChanged(expiresAt: string | null): void {
    const key = this.admission?.key;
    if (!key || this.state >= State.Closing || key.expiresAt === expiresAt) return;
    key.expiresAt = expiresAt;
    this.armKeyExpiry();
  }

  private armKeyExpiry(): void {
    this.expiry.arm(this.admission?.key.expiresAt ?? null);
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
  failInternal(err: unknown): void {
    this.ctx.logger.error({ err, ...this.logFields() }, 'relay failed unexpectedly');
    this.closeUnexpectedly('INTERNAL_ERROR', 'internal error');
  }

  /** The contract's 1011 on both sides (an upstream not opened yet has nothing to close). */
  private closeUnexpectedly(outcome: string, reason: string): void {
    if (this.state >= State.Closing) return;
    this.outcome = outcome;
    this.beginClosing();
    this.client.close(1011, reason);
    this.link?.close(1011, '');
  }
}

const EMPTY = Buffer.alloc(0);
