/**
 * The upstream side of a session-mode model (sessions-contract.md §1–§2): one OnlyFans socket
 * kept open while this node holds the model's lease, every message after the handshake reply
 * appended to the model's {@link EventLog} under the lease's fence.
 *
 *   connecting ──connected:true──▶ open ──socket lost──▶ backoff ──▶ connecting …
 *        └─ no usable credentials / token rejected ─▶ down (until modelChanged())
 *
 * Before every attempt the credentials are read afresh (refreshed through the operator's
 * endpoint when missing, expired or rejected). Reconnects use full-jitter backoff. A token
 * OnlyFans refuses stops the retries: OnlyFans flags accounts that hammer it.
 *
 * Appends are serialized: what arrives while one is in flight goes into the next, as one
 * batch. The entries waiting are bounded; past the bound the upstream leg is no longer read
 * (TCP backpressure towards OnlyFans) until the log catches up, so nothing is dropped and
 * memory stays bounded whatever the peer sends.
 */
import { createHash } from 'node:crypto';
import type { GatewayConfig } from '../config.js';
import type { UpstreamHealth } from '../gateway/upstream-health.js';
import type { Logger } from '../log.js';
import type { ModelCredentials, ModelRecord, Store } from '../store/types.js';
import { connectUpstream, type UpstreamAttempt, type UpstreamConnectError, type UpstreamLimits, type UpstreamTarget } from '../upstream/connector.js';
import { RefreshError, type RefreshReason } from '../upstream/credential-refresh.js';
import { isConnectedReply } from '../upstream/replies.js';
import { tokenExpiry } from '../upstream/token.js';
import { LegProtocolError, type Leg, type LegOwner } from '../wire/leg.js';
import { OnlinesQueue } from './onlines-queue.js';
import { FencedError, type EventLog, type Fence, type Lease, type NewEntry, type Retention, type RunningSession, type UpstreamState } from './types.js';

/** The settings a session uses (documented with their defaults in src/config.ts). */
export type SessionSettings = Pick<
  GatewayConfig,
  | 'sessionReconnectMinMs'
  | 'sessionReconnectMaxMs'
  | 'sessionStableAfterMs'
  | 'sessionStaleAfterMs'
  | 'sessionRequestTimeoutMs'
  | 'heartbeatIntervalMs'
>;

export interface ModelSessionOptions {
  modelId: string;
  orgId: string;
  lease: Lease;
  log: EventLog;
  store: Store;
  health: UpstreamHealth;
  upstreamLimits: UpstreamLimits;
  settings: SessionSettings;
  /** The model's plan's retention, read at every append (plans change at run time). */
  retention: () => Retention;
  logger: Logger;
  /** The log refused an append with {@link FencedError}, or kept failing: the session is over. */
  onLost(reason: string): void;
  /** Jitter source in [0, 1); default Math.random. */
  random?: () => number;
}

/**
 * Entries and payload bytes waiting to be appended past which the upstream leg is paused; it
 * is read again once both are below half. Large enough for a burst of chat events, small
 * enough that a stalled log costs a bounded 8 MiB per model.
 */
export const MAX_QUEUED_ENTRIES = 1000;
export const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

/**
 * Appends that fail (the log's store unavailable) are retried this many times, with delays
 * doubling from 100 ms to 5 s (about 30 s in all); then the session ends through `onLost`, so
 * the host releases the lease rather than hold a socket whose events cannot be kept.
 */
const APPEND_RETRIES = 10;
const APPEND_RETRY_MIN_MS = 100;
const APPEND_RETRY_MAX_MS = 5000;
/** The exponent of the backoff stops growing here (2^20 × any minimum is past any cap). */
const MAX_BACKOFF_EXPONENT = 20;

/** The `reconnecting` a session tells when it continues a log another session wrote. */
export const RESUMED_REASON = 'the session restarted or moved to another node';

type Phase = 'connecting' | 'open' | 'backoff' | 'down' | 'stopped';

type LifecycleKind = 'session.upstream_down' | 'session.upstream_restored';

export class ModelSession implements RunningSession, LegOwner {
  readonly modelId: string;
  readonly orgId: string;
  private readonly options: ModelSessionOptions;
  private readonly fence: Fence;
  private readonly logger: Logger;
  private readonly random: () => number;
  private readonly onlines: OnlinesQueue;

  private phase: Phase = 'connecting';
  private upstream: UpstreamState = 'reconnecting';
  private leg: Leg | null = null;
  private attempt: UpstreamAttempt | null = null;
  /** The token of the attempt in progress, for `health.tokenRejected`; cleared once it settles. */
  private attemptToken = '';
  /** A digest of the credentials of the open socket, to notice they were replaced (no secret kept). */
  private credentialsDigest = '';
  /** Bumped by every attempt, so a stale async step of an earlier one does nothing. */
  private generation = 0;
  /** Failed attempts since the last stable socket: the backoff's exponent. */
  private failures = 0;
  /** A rejected token was refreshed and retried; reset by an open socket and by modelChanged(). */
  private refreshedAfterRejection = false;
  /** An open socket was lost and none is open again yet. */
  private outage = false;
  /** `session.upstream_down` was recorded for the current outage. */
  private downRecorded = false;
  private everOpened = false;
  private changedWhileConnecting = false;
  /** Why the open socket is going away (set before it closes), and whether to reopen at once. */
  private closing: string | undefined;
  private reopenAtOnce = false;
  private alive = true;
  private lastDataAt = 0;
  private paused = false;

  private retryTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private staleTimer: NodeJS.Timeout | undefined;
  private stableTimer: NodeJS.Timeout | undefined;

  private readonly queue: NewEntry[] = [];
  private queuedBytes = 0;
  private draining: Promise<void> | null = null;
  /** No more appends: stopped after the last status, aborted or lost. */
  private appendsClosed = false;
  private appendRetry: { timer: NodeJS.Timeout; wake: () => void } | undefined;

  private stopping: Promise<void> | undefined;
  private socketClosed: (() => void) | undefined;
  private lost = false;

  private eventCount = 0;
  private reconnectCount = 0;

  constructor(options: ModelSessionOptions) {
    this.options = options;
    this.modelId = options.modelId;
    this.orgId = options.orgId;
    this.fence = { modelId: options.modelId, token: options.lease.token };
    this.logger = options.logger.child({ modelId: options.modelId, orgId: options.orgId, session: options.lease.token });
    this.random = options.random ?? Math.random;
    this.onlines = new OnlinesQueue({
      send: (text) => this.send(text),
      isOpen: () => this.phase === 'open' && this.closing === undefined,
      timeoutMs: options.settings.sessionRequestTimeoutMs,
    });
    void this.begin();
  }

  /**
   * A log that already has entries was written by an earlier session: another node's that died
   * (taken over), or this node's before a restart. Neither may have told its end, so the time
   * since its last entry is told as `reconnecting` before the first `connected`: a client then
   * learns that OnlyFans events of that span may never have reached the gateway (contract §2).
   */
  private async begin(): Promise<void> {
    try {
      if ((await this.options.log.lastId(this.modelId)) !== null) {
        this.enqueue({ kind: 'status', data: Buffer.from(JSON.stringify({ upstream: 'reconnecting', reason: RESUMED_REASON })), binary: false });
      }
    } catch (err) {
      this.logger.warn({ err }, 'reading the event log before the first connect failed');
    }
    if (this.phase === 'connecting' && this.generation === 0) void this.connect();
  }

  /** The upstream's state as the log last told it (`reconnecting` until the first socket opens). */
  get state(): UpstreamState {
    return this.upstream;
  }

  /** Sockets reopened after one was lost. */
  get reconnects(): number {
    return this.reconnectCount;
  }

  /** Event entries appended to the log (status entries not counted). */
  get eventsAppended(): number {
    return this.eventCount;
  }

  /** True while the upstream leg is not read because appends are behind (backpressure). */
  get readingPaused(): boolean {
    return this.paused;
  }

  /** Writes a client's frame up the socket; false when no socket is open. */
  send(text: string): boolean {
    const leg = this.leg;
    if (leg === null || this.phase !== 'open' || this.closing !== undefined || leg.closing) return false;
    leg.sendText(text);
    return true;
  }

  /**
   * Sends a `get_onlines` and resolves with OnlyFans' reply (which is not logged). One is on
   * the socket at a time; rejects when the queue is full, the reply does not come within
   * `sessionRequestTimeoutMs`, or the socket closes first.
   */
  request(text: string): Promise<string> {
    return this.onlines.request(text);
  }

  modelChanged(): void {
    if (this.phase === 'down') {
      this.refreshedAfterRejection = false;
      void this.connect();
    } else if (this.phase === 'open') {
      void this.checkCredentialsReplaced();
    } else if (this.phase === 'connecting') {
      this.changedWhileConnecting = true;
    }
  }

  stop(reason: string): Promise<void> {
    this.stopping ??= this.shutdown(reason);
    return this.stopping;
  }

  abort(reason: string): void {
    if (this.lost) return;
    this.logger.info({ reason }, 'session aborted');
    this.end();
    this.leg?.terminate();
  }

  // ── connecting ────────────────────────────────────────────────────────────

  /** One attempt: current credentials, then the socket. */
  private async connect(): Promise<void> {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.phase = 'connecting';
    this.changedWhileConnecting = false;
    const generation = ++this.generation;
    let target: UpstreamTarget | undefined;
    try {
      target = await this.currentTarget();
    } catch (err) {
      if (generation !== this.generation || this.phase !== 'connecting') return;
      if (err instanceof RefreshError) return this.attemptFailed(err.message);
      this.logger.error({ err }, 'reading the model\'s credentials failed');
      return this.attemptFailed('reading the model\'s credentials failed');
    }
    if (generation !== this.generation || this.phase !== 'connecting' || target === undefined) return;
    this.attemptToken = target.wsToken;
    const digest = digestOf(target);
    this.attempt = connectUpstream(target, this.options.upstreamLimits, {
      ready: (leg) => this.opened(leg, digest),
      failed: (error) => void this.connectFailed(error),
    });
  }

  /**
   * The credentials to connect with, refreshed when they are missing, expired or rejected;
   * undefined after going `down` (no refresh endpoint: wait for modelChanged()).
   * @throws {RefreshError} when the refresh endpoint failed (retried with backoff).
   */
  private async currentTarget(): Promise<UpstreamTarget | undefined> {
    const { store, health } = this.options;
    const model = await store.getModel(this.modelId);
    if (model === undefined) {
      this.goDown('the model was removed');
      return undefined;
    }
    const credentials = await store.getModelCredentials(this.modelId);
    const problem = credentialProblem(model, credentials, new Date());
    if (problem === undefined) return targetOf(credentials as ModelCredentials);
    if (!health.canRefresh) {
      this.goDown(problem.message);
      return undefined;
    }
    try {
      return await health.refresh({ modelId: this.modelId, orgId: this.orgId }, problem.reason);
    } catch (err) {
      if (err instanceof RefreshError) throw new RefreshError(`${problem.message}; refreshing them failed: ${err.message}`);
      throw err;
    }
  }

  private async connectFailed(error: UpstreamConnectError): Promise<void> {
    this.attempt = null;
    const token = this.attemptToken;
    this.attemptToken = '';
    if (this.phase !== 'connecting') return;
    const ref = { modelId: this.modelId, orgId: this.orgId };
    if (error.stage === 'proxy') this.options.health.proxyFailed(ref, error);
    if (!error.tokenRejected) return this.attemptFailed(error.message);
    const generation = this.generation;
    try {
      await this.options.health.tokenRejected(ref, token, error);
    } catch (err) {
      this.logger.error({ err }, 'marking the rejected token failed');
    }
    if (generation !== this.generation || this.phase !== 'connecting') return;
    if (this.options.health.canRefresh && !this.refreshedAfterRejection) {
      // Once: the next attempt sees the credentials rejected and asks the refresh endpoint.
      this.refreshedAfterRejection = true;
      this.logger.warn({ reason: error.message }, 'session upstream token rejected; refreshing the credentials');
      void this.connect();
      return;
    }
    this.goDown(error.message);
  }

  /** An attempt failed for a reason that may pass: try again after the backoff. */
  private attemptFailed(reason: string): void {
    this.logger.warn({ reason, failures: this.failures + 1 }, 'session upstream attempt failed');
    if (this.outage && !this.downRecorded) this.recordDown(reason);
    this.retryLater();
  }

  /** Full-jitter backoff: random() × min(max, min × 2^failures). */
  private retryLater(): void {
    const exponent = Math.min(this.failures, MAX_BACKOFF_EXPONENT);
    const { sessionReconnectMinMs: min, sessionReconnectMaxMs: max } = this.options.settings;
    const delay = Math.floor(this.random() * Math.min(max, min * 2 ** exponent));
    this.failures++;
    this.phase = 'backoff';
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }

  /** Stops retrying until modelChanged(): no credentials to use, or OnlyFans refused them. */
  private goDown(reason: string): void {
    const repeated = this.upstream === 'down';
    this.phase = 'down';
    this.status('down', reason);
    if (!this.downRecorded) this.recordDown(reason);
    if (!repeated) this.logger.warn({ reason }, 'session upstream down until the model changes');
  }

  private opened(leg: Leg, digest: string): void {
    this.attempt = null;
    this.attemptToken = '';
    if (this.phase !== 'connecting') {
      leg.close(1000);
      return;
    }
    leg.owner = this;
    leg.payloads = true;
    this.leg = leg;
    this.phase = 'open';
    this.credentialsDigest = digest;
    this.refreshedAfterRejection = false;
    this.alive = true;
    this.lastDataAt = performance.now();
    if (this.everOpened) this.reconnectCount++;
    this.everOpened = true;
    this.status('connected');
    if (this.downRecorded) {
      this.downRecorded = false;
      this.lifecycle('session.upstream_restored', 'the OnlyFans socket is open again');
      this.logger.info('session upstream restored');
    } else {
      this.logger.info('session upstream connected');
    }
    this.outage = false;
    const { heartbeatIntervalMs, sessionStableAfterMs, sessionStaleAfterMs } = this.options.settings;
    this.heartbeatTimer = setInterval(() => this.heartbeat(), heartbeatIntervalMs);
    this.stableTimer = setTimeout(() => (this.failures = 0), sessionStableAfterMs);
    if (sessionStaleAfterMs > 0) this.armStaleWatchdog(sessionStaleAfterMs);
    if (this.paused) leg.pause();
    this.onlines.socketOpened();
    if (this.changedWhileConnecting) void this.checkCredentialsReplaced();
  }

  /** modelChanged() on an open socket: reopen with the new credentials if they were replaced. */
  private async checkCredentialsReplaced(): Promise<void> {
    const leg = this.leg;
    let credentials: ModelCredentials | undefined;
    try {
      credentials = await this.options.store.getModelCredentials(this.modelId);
    } catch (err) {
      this.logger.error({ err }, 'reading the model\'s credentials failed');
      return;
    }
    if (leg === null || leg !== this.leg || this.closing !== undefined || !credentials?.wsUrl || !credentials.wsToken) return;
    if (digestOf(targetOf(credentials)) === this.credentialsDigest) return;
    this.reopenAtOnce = true;
    this.closeLeg('the model\'s credentials were replaced');
  }

  // ── the open socket ───────────────────────────────────────────────────────

  private heartbeat(): void {
    const leg = this.leg;
    // A leg we stopped reading cannot show us its pongs: the log is behind, not the peer.
    if (leg === null || this.closing !== undefined || this.paused) return;
    if (!this.alive) {
      this.closing = 'no pong from OnlyFans within two heartbeat periods';
      leg.terminate();
      return;
    }
    this.alive = false;
    leg.ping();
  }

  /** One timer, re-armed for the remainder, so messages only store a timestamp. */
  private armStaleWatchdog(delayMs: number): void {
    this.staleTimer = setTimeout(() => {
      if (this.leg === null || this.closing !== undefined) return;
      const staleMs = this.options.settings.sessionStaleAfterMs;
      const quietMs = performance.now() - this.lastDataAt;
      if (this.paused || quietMs < staleMs) return this.armStaleWatchdog(this.paused ? staleMs : staleMs - quietMs);
      this.closeLeg('stale');
    }, Math.max(1, Math.ceil(delayMs)));
  }

  /** Starts the close handshake of the open socket; the loss is handled once it is closed. */
  private closeLeg(reason: string): void {
    const leg = this.leg;
    if (leg === null || this.closing !== undefined) return;
    this.closing = reason;
    leg.resume(); // the peer's close frame must be readable
    leg.close(1000);
  }

  /** The socket is gone: tell the log, then reconnect (or finish stopping). */
  private socketGone(leg: Leg, code: number): void {
    if (leg !== this.leg) return;
    this.leg = null;
    this.credentialsDigest = '';
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.staleTimer);
    clearTimeout(this.stableTimer);
    this.onlines.socketLost();
    const reason = this.closing ?? `OnlyFans closed the socket (code ${code})`;
    this.closing = undefined;
    const closed = this.socketClosed;
    this.socketClosed = undefined;
    if (closed) return closed();
    if (this.phase !== 'open') return;
    this.logger.warn({ reason, code }, 'session upstream lost');
    this.status('reconnecting', reason);
    this.outage = true;
    if (this.reopenAtOnce) {
      this.reopenAtOnce = false;
      void this.connect();
    } else {
      this.retryLater();
    }
  }

  // ── LegOwner (the open socket) ────────────────────────────────────────────

  legPayload(_leg: Leg, payload: Buffer, binary: boolean): void {
    if (this.appendsClosed) return;
    this.lastDataAt = performance.now();
    // A later reply to a connect act is OnlyFans', not an event (relay-pair consumes it too).
    if (isConnectedReply(payload)) return;
    if (this.onlines.offer(payload)) return;
    this.enqueue({ kind: 'event', data: Buffer.from(payload), binary, readAt: this.lastDataAt });
  }

  legMessage(): boolean {
    return false; // not reached: the leg delivers payloads
  }

  legData(): void {}

  legPong(): void {
    this.alive = true;
  }

  legFlushed(): void {}

  legOverflow(leg: Leg): void {
    this.closing ??= 'OnlyFans stopped reading';
    leg.terminate();
  }

  legCloseFrame(_leg: Leg, code: number): void {
    this.closing ??= `OnlyFans closed the socket (code ${code})`;
  }

  legError(_leg: Leg, err: Error & { code?: string }): void {
    this.closing ??= err instanceof LegProtocolError ? `OnlyFans sent ${err.message}` : `the OnlyFans socket failed: ${err.code ?? 'socket error'}`;
  }

  legClosed(leg: Leg, code: number): void {
    this.socketGone(leg, code);
  }

  // ── the log ───────────────────────────────────────────────────────────────

  private status(state: UpstreamState, reason?: string): void {
    if (this.upstream === state) return;
    this.upstream = state;
    const body = reason === undefined ? { upstream: state } : { upstream: state, reason };
    this.enqueue({ kind: 'status', data: Buffer.from(JSON.stringify(body)), binary: false });
  }

  private enqueue(entry: NewEntry): void {
    if (this.appendsClosed) return;
    this.queue.push(entry);
    this.queuedBytes += entry.data.length;
    if (!this.paused && (this.queue.length > MAX_QUEUED_ENTRIES || this.queuedBytes > MAX_QUEUED_BYTES)) {
      this.paused = true;
      this.leg?.pause();
    }
    this.draining ??= this.drain().finally(() => (this.draining = null));
  }

  /** Appends what is queued, one batch at a time, until the queue is empty. */
  private async drain(): Promise<void> {
    let failures = 0;
    while (this.queue.length > 0 && !this.appendsClosed) {
      const batch = this.queue.slice();
      try {
        await this.options.log.append(this.fence, batch, this.options.retention());
      } catch (err) {
        if (this.appendsClosed) return;
        if (err instanceof FencedError) return this.lose('another node holds the model\'s session now');
        if (++failures > APPEND_RETRIES) return this.lose('the event log kept refusing appends');
        this.logger.warn({ err, failures }, 'appending to the event log failed; retrying');
        await this.pauseBeforeRetry(Math.min(APPEND_RETRY_MAX_MS, APPEND_RETRY_MIN_MS * 2 ** (failures - 1)));
        continue;
      }
      failures = 0;
      if (this.appendsClosed) return;
      this.queue.splice(0, batch.length);
      for (const entry of batch) {
        this.queuedBytes -= entry.data.length;
        if (entry.kind === 'event') this.eventCount++;
      }
      if (this.paused && this.queue.length <= MAX_QUEUED_ENTRIES / 2 && this.queuedBytes <= MAX_QUEUED_BYTES / 2) {
        this.paused = false;
        this.leg?.resume();
      }
    }
  }

  private pauseBeforeRetry(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.appendRetry = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.appendRetry = { timer, wake };
    });
  }

  // ── the end ───────────────────────────────────────────────────────────────

  private async shutdown(reason: string): Promise<void> {
    if (this.lost) return;
    const leg = this.leg;
    this.phase = 'stopped';
    this.clearTimers();
    this.attempt?.abort();
    this.attempt = null;
    this.onlines.close('the session stopped');
    if (leg !== null) {
      // Bounded twice: the leg destroys a socket whose close handshake outlasts closeTimeoutMs.
      const closed = new Promise<void>((resolve) => (this.socketClosed = resolve));
      this.closing = reason;
      leg.resume();
      leg.close(1000);
      const guard = setTimeout(() => leg.terminate(), this.options.upstreamLimits.closeTimeoutMs + 100);
      await closed;
      clearTimeout(guard);
    }
    this.status('down', reason);
    this.logger.info({ reason }, 'session stopped');
    // Best effort: the last entries (the `down` status) get as long as a close handshake.
    const drained = this.draining;
    if (drained) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.upstreamLimits.closeTimeoutMs)))]);
      clearTimeout(timer);
    }
    this.end();
  }

  /** The log refused us: end without another append and tell the host. */
  private lose(reason: string): void {
    if (this.lost) return;
    this.logger.warn({ reason }, 'session lost');
    const leg = this.leg;
    this.end();
    this.lost = true;
    if (leg !== null) {
      leg.resume();
      leg.close(1000);
    }
    this.options.onLost(reason);
  }

  /** Nothing more happens: no attempt, timer, request or append. */
  private end(): void {
    this.phase = 'stopped';
    this.generation++;
    this.appendsClosed = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.clearTimers();
    this.attempt?.abort();
    this.attempt = null;
    this.attemptToken = '';
    this.onlines.close('the session stopped');
    this.appendRetry?.wake();
  }

  private clearTimers(): void {
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.staleTimer);
    clearTimeout(this.stableTimer);
  }

  private recordDown(reason: string): void {
    this.downRecorded = true;
    this.lifecycle('session.upstream_down', reason);
  }

  private lifecycle(kind: LifecycleKind, reason: string): void {
    this.options.store.recordModelEvent(this.modelId, kind, reason).catch((err: unknown) => {
      this.logger.error({ err, event: kind }, 'recording a model event failed');
    });
  }
}

interface CredentialProblem {
  reason: RefreshReason;
  message: string;
}

/** Why the stored credentials cannot be used, or undefined when they can. */
function credentialProblem(model: ModelRecord, credentials: ModelCredentials | undefined, now: Date): CredentialProblem | undefined {
  if (!credentials?.wsUrl || !credentials.wsToken) return { reason: 'missing', message: 'The model has no WebSocket URL or auth token' };
  if (model.credentialsRejectedAt) return { reason: 'rejected', message: `OnlyFans rejected the model's token at ${model.credentialsRejectedAt}` };
  const expiry = tokenExpiry(credentials.wsToken);
  if (expiry && expiry <= now) return { reason: 'expired', message: `The model's WebSocket token expired at ${expiry.toISOString()}` };
  return undefined;
}

function targetOf(credentials: ModelCredentials): UpstreamTarget {
  const { wsUrl, wsToken, userAgent, cookie, proxyUrl } = credentials;
  return { wsUrl: wsUrl ?? '', wsToken: wsToken ?? '', userAgent, cookie, proxyUrl };
}

/** Compares credentials without keeping them: a live session holds no secret. */
function digestOf(target: UpstreamTarget): string {
  return createHash('sha256')
    .update(JSON.stringify([target.wsUrl, target.wsToken, target.userAgent, target.cookie, target.proxyUrl]))
    .digest('base64');
}
