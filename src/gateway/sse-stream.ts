/**
 * One server-sent events stream (sessions-contract.md §5): a customer connection like a
 * WebSocket one — the same admission checks in order, the same limits (it counts as a session
 * client of its model and as a connection of its organization), the same reactions to store
 * changes — whose transport is an HTTP response that only ever goes one way.
 *
 *   admitting ──checks, limits──▶ open (200, `ready`, entries, heartbeats) ──▶ finished
 *        └── refusal: the catalog's HTTP status, JSON {"error","code"} ──┘
 *
 * It is attached to the model's feed like a SessionLink: every logged entry once, in order,
 * replayed from the resume point first. A stream whose response cannot take more (write
 * returned false) is given nothing until it drains; one that stays so past
 * slowConsumerTimeoutMs is ended, and the browser resumes with Last-Event-ID.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayConfig } from '../config.js';
import { ERROR_CATALOG, GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import { flatUuid } from '../wire/frames.js';
import { relayFinished, relayOpened, type RelayTraffic } from '../diagnostics.js';
import type { FeedClient, ModelFeed } from '../delivery/model-feed.js';
import { SSE_HEARTBEAT, sseEnd, sseEntry, sseGap, sseReady, type SseEventNames } from '../delivery/sse-frames.js';
import type { LogEntry } from '../sessions/types.js';
import { admitConnection, type Admission, type ConnectionRequest } from './admission.js';
import { readSseQuery, type SseQuery } from './delivery-query.js';
import { KeyExpiry } from './key-expiry.js';
import type { ConnectionLimits } from './limits/connection-limits.js';
import type { SessionAccess } from './session-link.js';
import type { TrackedConnection } from './tracked-connection.js';
import type { UpstreamHealth } from './upstream-health.js';
import type { ModelMembership } from './relay-registry.js';

/** What every stream shares: the store, the limits, the node's sessions and the gateway's hooks. */
export interface SseContext {
  store: Store;
  health: UpstreamHealth;
  logger: Logger;
  admissionLimits: ConnectionLimits;
  settings: Pick<GatewayConfig, 'sseHeartbeatMs' | 'slowConsumerTimeoutMs'>;
  sessions: Pick<SessionAccess, 'feed' | 'attached' | 'unavailable'>;
  /** Checks 1–6 passed: counts the stream against the limits and indexes it, or returns the limit crossed. */
  onAdmitted(member: ModelMembership): GatewayError | undefined | Promise<GatewayError | undefined>;
  /** Called once, when the response is over. */
  onFinished(conn: TrackedConnection): void;
}

/** Headers of every answer: any page may read it (the key is in the request, not a cookie). */
export const SSE_CORS = { 'access-control-allow-origin': '*' } as const;

const enum State {
  Admitting,
  Open,
  Finished,
}

export class SseStream implements TrackedConnection, ModelMembership, FeedClient {
  readonly id = flatUuid();
  readonly startedAt = Date.now();
  admission: Admission | null = null;
  changeSeq = 0;
  /** A stream serves one model: it is its own registry membership. */
  readonly connection: TrackedConnection = this;
  outcome = 'ok';
  openedAt: number | undefined;
  upstreamStartedAt: number | undefined;
  /** An HTTP response has no close code. */
  readonly clientCloseCode = undefined;
  readonly upstreamCloseCode = undefined;
  readonly traffic: RelayTraffic = { messagesToUpstream: 0, bytesToUpstream: 0, messagesToClient: 0, bytesToClient: 0 };

  private state = State.Admitting;
  /** Ending: nothing more is written, though the response may not be over yet. */
  private ending = false;
  private names: SseEventNames = 'onlyfans';
  private feed: ModelFeed | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private slowTimer: NodeJS.Timeout | undefined;
  private readonly expiry = new KeyExpiry(() => this.fail(new GatewayError('INVALID_API_KEY', 'The API key expired')));

  get slotId(): string {
    return this.id;
  }

  memberships(): Iterable<ModelMembership> {
    return [this];
  }

  constructor(
    private readonly res: ServerResponse,
    private readonly ctx: SseContext,
  ) {
    // 'close' comes when the response is over, whoever ended it (the client going away too).
    res.once('close', () => this.finish());
    res.on('drain', () => this.drained());
    res.on('error', () => {
      // A reset client: the close that follows finishes the stream.
    });
  }

  get modelId(): string {
    return this.admission?.modelId ?? '';
  }

  get isOpen(): boolean {
    return this.state === State.Open && !this.ending;
  }

  /** Runs the checks (contract §2, in order) and the limits, then attaches to the model's feed. */
  async start(request: ConnectionRequest, query: string, lastEventId: string | undefined, changeSeq: number): Promise<void> {
    this.changeSeq = changeSeq;
    const limits = this.ctx.admissionLimits;
    let admission: Admission;
    let resume: SseQuery;
    try {
      ({ admission, resume } = await limits.admitFrom(request.clientIp, async () => {
        const parsed = readSseQuery(query, lastEventId);
        this.names = parsed.names;
        return { resume: parsed, admission: await admitConnection(this.ctx.store, request, { health: this.ctx.health, limits }) };
      }));
    } catch (err) {
      return err instanceof GatewayError ? this.fail(err) : this.failInternal(err);
    }
    if (this.ended) return; // the client left during the checks
    if (admission.delivery !== 'session') {
      return this.fail(
        new GatewayError('MODEL_NOT_CONNECTED', "Server-sent events need the model in session mode (its event log gives the ids and the resume); this model is in relay mode: switch it with `ofgw model update <model-id> --delivery session`"),
      );
    }
    const unavailable = this.ctx.sessions.unavailable;
    if (unavailable) return this.refuseUnexpectedly(503, 'SESSIONS_UNAVAILABLE', unavailable);
    this.admission = admission;
    let overLimit: GatewayError | undefined;
    try {
      overLimit = await this.ctx.onAdmitted(this);
    } catch (err) {
      this.ctx.logger.warn({ ...this.logFields(), error: (err as Error).message }, 'relay refused: cluster coordination unavailable');
      return this.refuseUnexpectedly(503, 'COORDINATION_UNAVAILABLE', 'cluster coordination unavailable');
    }
    if (overLimit) return this.fail(overLimit);
    if (this.ended) return; // a change seen since the checks ended it
    this.expiry.arm(admission.key.expiresAt);
    this.upstreamStartedAt = Date.now();
    const feed = this.ctx.sessions.feed(admission.modelId);
    this.feed = feed;
    this.ctx.sessions.attached(this, true);
    const since = resume.since;
    feed
      .attach(this, since, (lastEventId, resumed) => this.open(lastEventId, since === undefined ? false : resumed, since ?? lastEventId))
      .catch((err: unknown) => this.failed(err));
  }

  private open(lastEventId: string | null, resumed: boolean, start: string | null): void {
    if (this.ended) return;
    this.state = State.Open;
    this.openedAt = Date.now();
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      // Proxies must neither cache nor buffer a stream (X-Accel-Buffering: nginx).
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      ...SSE_CORS,
    });
    this.res.write(sseReady(this.modelId, lastEventId, resumed, start));
    this.heartbeatTimer = setInterval(() => this.beat(), this.ctx.settings.sseHeartbeatMs);
    if (this.ctx.logger.isLevelEnabled('info')) this.ctx.logger.info(this.logFields(), 'relay opened');
    if (relayOpened.hasSubscribers) relayOpened.publish(this);
  }

  private get ended(): boolean {
    return this.ending || this.state === State.Finished;
  }

  // ── FeedClient ─────────────────────────────────────────────────────────────

  deliver(entry: LogEntry): void {
    if (this.ended || this.state !== State.Open) return;
    if (entry.kind === 'event') {
      this.traffic.messagesToClient++;
      this.traffic.bytesToClient += entry.data.length;
    }
    this.res.write(sseEntry(this.modelId, entry, this.names));
  }

  gap(after: string | null, before: string): void {
    if (this.ended || this.state !== State.Open) return;
    this.res.write(sseGap(this.modelId, after, before));
  }

  /** The response took no more (its last write returned false): stop giving it entries. */
  get backedUp(): boolean {
    const behind = this.res.writableNeedDrain;
    if (behind && this.slowTimer === undefined && !this.ended) {
      this.slowTimer = setTimeout(() => this.fail(new GatewayError('SLOW_CONSUMER', 'The client did not read its events in time')), this.ctx.settings.slowConsumerTimeoutMs);
    }
    return behind;
  }

  failed(err: unknown): void {
    this.failInternal(err);
  }

  private drained(): void {
    if (this.ended) return;
    clearTimeout(this.slowTimer);
    this.slowTimer = undefined;
    this.feed?.drained(this);
  }

  /** A comment line keeps the stream and the proxies in front of it open; a backed-up one needs none. */
  private beat(): void {
    if (!this.ended && !this.res.writableNeedDrain) this.res.write(SSE_HEARTBEAT);
  }

  // ── TrackedConnection ──────────────────────────────────────────────────────

  /**
   * Ends with a catalog error: before the stream opened, the error's HTTP status and JSON body;
   * once open, an `end` event naming the code (a browser's EventSource then reconnects and
   * gets the refusal as its status, which stops it).
   */
  fail(error: GatewayError): void {
    if (this.ended) return;
    this.outcome = error.code;
    if (this.state === State.Admitting) return this.refuse(ERROR_CATALOG[error.code].httpStatus, error.toFrame(), error.extra?.retryAfterMs);
    this.end(sseEnd(error));
  }

  keyExpiryChanged(expiresAt: string | null): void {
    const key = this.admission?.key;
    if (!key || this.ended || key.expiresAt === expiresAt) return;
    key.expiresAt = expiresAt;
    this.expiry.arm(expiresAt);
  }

  /** Back in relay mode there is no log to stream: the browser's reconnect is refused with the reason. */
  deliveryChanged(): void {
    if (this.ended) return;
    this.outcome = 'DELIVERY_CHANGED';
    this.end('');
  }

  heartbeat(): void {
    // The stream keeps its own comment heartbeat (sseHeartbeatMs); a dead peer fails the writes.
  }

  /** Graceful shutdown: the stream ends and the browser reconnects (to another node, or later). */
  shutdown(): void {
    if (this.ended) return;
    this.outcome = 'SHUTDOWN';
    if (this.state === State.Admitting) return this.refuse(503, JSON.stringify({ error: 'The gateway is shutting down', code: 'SHUTTING_DOWN' }));
    this.end('');
  }

  closeByOperator(): void {
    if (this.ended) return;
    this.outcome = 'CLOSED_BY_OPERATOR';
    this.end('');
  }

  destroy(): void {
    this.res.destroy();
  }

  logFields(): Record<string, unknown> {
    return { relay: this.id, transport: 'sse', orgId: this.admission?.orgId, keyId: this.admission?.key.id, modelId: this.admission?.modelId };
  }

  // ── internals ──────────────────────────────────────────────────────────────

  /** An unexpected failure (the log's store away, a bug): 500 or an `end`; details in the log only. */
  private failInternal(err: unknown): void {
    this.ctx.logger.error({ err, ...this.logFields() }, 'relay failed unexpectedly');
    if (this.state === State.Admitting) return this.refuseUnexpectedly(500, 'INTERNAL_ERROR', 'internal error');
    if (this.ended) return;
    this.outcome = 'INTERNAL_ERROR';
    this.end(`event: end\ndata: ${JSON.stringify({ error: 'internal error', code: 'INTERNAL_ERROR' })}\n\n`);
  }

  /** A refusal no catalog code fits (1011 on a WebSocket): the status, and the outcome as the code. */
  private refuseUnexpectedly(status: number, code: string, message: string): void {
    if (this.ended) return;
    this.outcome = code;
    this.refuse(status, JSON.stringify({ error: message, code }));
  }

  private refuse(status: number, body: string, retryAfterMs?: unknown): void {
    this.ending = true;
    const headers: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...SSE_CORS };
    if (typeof retryAfterMs === 'number') headers['retry-after'] = Math.max(1, Math.ceil(retryAfterMs / 1000));
    if (!this.res.headersSent) this.res.writeHead(status, headers);
    this.res.end(body);
  }

  private end(last: string): void {
    this.ending = true;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.slowTimer);
    this.expiry.clear();
    this.res.end(last);
  }

  private finish(): void {
    if (this.state === State.Finished) return;
    this.state = State.Finished;
    this.ending = true;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.slowTimer);
    this.expiry.clear();
    if (this.feed) {
      this.feed.detach(this);
      this.ctx.sessions.attached(this, false);
    }
    // Published while the stream is still in its gateway's registry (as a WebSocket's is).
    if (relayFinished.hasSubscribers) relayFinished.publish(this);
    this.ctx.onFinished(this);
  }
}

