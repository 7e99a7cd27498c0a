/**
 * A node's part in session mode (sessions-contract.md §1–§3), built from the parts of
 * src/sessions, each embedded on one node and Redis-backed in a cluster:
 *
 *   SessionHost ── Ownership (lease + fencing token) ── runs a ModelSession per held model
 *   ModelSession ── appends every upstream message to the EventLog, serves the SessionBus
 *   ModelFeed (per model, on every node with clients) ── follows the EventLog ── SessionLinks
 *   SessionLink ── sends client frames and get_onlines through the SessionBus to the holder
 *
 * A client never talks to the session directly, even on the holding node: the log and the bus
 * are the only ways in and out, so one node and many behave the same.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { planLimits, type GatewayConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import type { UpstreamLimits } from '../upstream/connector.js';
import { ModelFeed } from '../delivery/model-feed.js';
import { MemoryBus } from '../sessions/bus-memory.js';
import { RedisBus } from '../sessions/bus-redis.js';
import { EventLogLockedError, SqliteEventLog } from '../sessions/event-log-sqlite.js';
import { RedisEventLog } from '../sessions/event-log-redis.js';
import { ModelSession } from '../sessions/model-session.js';
import { MemoryOwnership } from '../sessions/ownership-memory.js';
import { RedisOwnership } from '../sessions/ownership-redis.js';
import { SessionHost } from '../sessions/session-host.js';
import type { EventLog, Lease, LogEntry, Ownership, RunningSession, SessionBus, SessionCommand, SessionReply } from '../sessions/types.js';
import type { DeliveryLag, LagSummary, SessionModelState } from '../observability/observed.js';
import type { SessionAccess } from './session-link.js';
import type { UpstreamHealth } from './upstream-health.js';

export interface GatewaySessionsOptions {
  config: GatewayConfig;
  store: Store;
  logger: Logger;
  health: UpstreamHealth;
  upstreamLimits: UpstreamLimits;
  nodeId: string;
  /** True while this node still relays the model on a socket of its own (relay mode). */
  relaying(modelId: string): boolean;
  /** A session started here (webhook intake follows its log); returns what to do when it ends. */
  onSessionStarted?(modelId: string, orgId: string, log: EventLog): () => Promise<void>;
}

/** For metrics: what the node's sessions are doing now and have done. */
export interface SessionStats {
  /** Sessions held on this node, by upstream state. */
  byState: Record<'connected' | 'reconnecting' | 'down', number>;
  /** Clients attached on this node. */
  clients: number;
  upstreamReconnects: number;
  eventsLogged: number;
  deliveries: number;
}

interface Pending {
  resolve(text: string): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** The clients' frames are checked before they reach the bus: this only tells get_onlines apart. */
function isOnlinesRequest(text: string): boolean {
  try {
    return (JSON.parse(text) as { act?: unknown }).act === 'get_onlines';
  } catch {
    return false;
  }
}

/** Reads and resets a histogram of microseconds. */
function summarize(h: RecordableHistogram): LagSummary {
  const s = h.count === 0 ? { count: 0, p50: 0, p99: 0, max: 0 } : { count: h.count, p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6 };
  h.reset();
  return s;
}

/** Replies waited for at once on a node; beyond, REQUEST_FAILED at once. */
const MAX_PENDING_REQUESTS = 10_000;

/**
 * The event log's file for a node without Redis: `eventLogFile`, else `events.db` beside a SQLite
 * store, else `./data/events.db`; an in-memory store gets an in-memory log.
 */
export function eventLogPath(config: Pick<GatewayConfig, 'eventLogFile' | 'db'>): string {
  if (config.eventLogFile) return config.eventLogFile;
  if (config.db === ':memory:') return ':memory:';
  if (/^postgres(ql)?:\/\//i.test(config.db)) return path.join('data', 'events.db');
  return path.join(path.dirname(config.db), 'events.db');
}

export class GatewaySessions implements SessionAccess {
  readonly limits: GatewayConfig;
  private log: EventLog | undefined;
  private ownership: Ownership | undefined;
  private bus: SessionBus | undefined;
  private host: SessionHost | undefined;
  private readonly running = new Map<string, ModelSession>();
  private readonly feeds = new Map<string, ModelFeed>();
  private readonly pending = new Map<string, Pending>();
  private readonly clientsByModel = new Map<string, number>();
  private stopReplies: (() => void) | undefined;
  private clientCount = 0;
  /** Why this node serves no session clients (another gateway holds the embedded log), if so. */
  unavailable: string | undefined;
  private delivered = 0;
  /** Counters of sessions that ended, so totals do not go backwards. */
  private endedReconnects = 0;
  private endedEvents = 0;
  /** Delivery lag of live events, µs (see {@link DeliveryLag}), since the last {@link takeDeliveryLag}. */
  private readonly lag = { upstreamRead: createHistogram(), logAppend: createHistogram() };

  constructor(private readonly opts: GatewaySessionsOptions) {
    this.limits = opts.config;
  }

  /** Opens the log, the ownership and the bus, then starts taking sessions. */
  async start(): Promise<void> {
    const { config, nodeId, logger } = this.opts;
    try {
      if (config.redis) {
        this.log = await RedisEventLog.open({ url: config.redis, prefix: config.redisPrefix, connectionName: `ofgw:${nodeId}:eventlog` });
        this.ownership = await RedisOwnership.start({ url: config.redis, prefix: config.redisPrefix, nodeId, ttlMs: config.nodeTtlMs });
        this.bus = await RedisBus.start({ url: config.redis, prefix: config.redisPrefix, nodeId, onError: (err) => logger.warn({ err }, 'session bus error') });
      } else {
        try {
          this.log = new SqliteEventLog({ path: eventLogPath(config), logger, fsync: config.eventLogFsync });
        } catch (err) {
          if (!(err instanceof EventLogLockedError)) throw err;
          // Several gateways on one store without Redis (allowed for relay mode): the first one
          // runs the sessions; the others say so instead of running a second socket per model.
          this.unavailable = 'session mode needs redis when several gateways share a store; this node leaves it to the gateway holding the event log';
          logger.warn({ eventLog: eventLogPath(config) }, `the event log is held by another gateway: ${this.unavailable}`);
          return;
        }
        this.ownership = new MemoryOwnership(nodeId);
        this.bus = new MemoryBus(nodeId, (err) => logger.warn({ err }, 'session bus error'));
      }
    } catch (err) {
      await this.closeParts();
      throw err;
    }
    this.stopReplies = this.bus.onReply((reply) => this.onReply(reply));
    this.host = new SessionHost({
      ownership: this.ownership,
      logger,
      renewEveryMs: Math.max(100, Math.floor(config.nodeTtlMs / 5)),
      // Connected session-mode models, except while this node still relays one on sockets of its
      // own (just switched): they close first.
      wanted: async () =>
        (await this.opts.store.listSessionModels()).filter((m) => m.status === 'connected' && !this.opts.relaying(m.id)).map((m) => ({ modelId: m.id, orgId: m.orgId })),
      start: (modelId, orgId, lease) => this.startSession(modelId, orgId, lease),
    });
    await this.host.start();
  }

  /** A model changed in the store: start or stop its session, and tell a running one. */
  modelChanged(modelId: string): void {
    void this.host?.modelChanged(modelId).catch((err: unknown) => this.opts.logger.error({ err, modelId }, 'reconciling sessions failed'));
  }

  /** Ends every session here (each socket closed before its lease is released), then the parts. */
  async stop(): Promise<void> {
    await this.host?.stopAll();
    this.stopReplies?.();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error('The gateway is shutting down'));
    }
    this.pending.clear();
    await this.closeParts();
  }

  private async closeParts(): Promise<void> {
    await Promise.allSettled([this.bus?.close(), this.ownership?.close(), this.log?.close()]);
  }

  stats(): SessionStats {
    const byState = { connected: 0, reconnecting: 0, down: 0 };
    let upstreamReconnects = this.endedReconnects;
    let eventsLogged = this.endedEvents;
    for (const s of this.running.values()) {
      byState[s.state]++;
      upstreamReconnects += s.reconnects;
      eventsLogged += s.eventsAppended;
    }
    let deliveries = this.delivered;
    for (const f of this.feeds.values()) deliveries += f.delivered;
    return { byState, clients: this.clientCount, upstreamReconnects, eventsLogged, deliveries };
  }

  /** The delivery lag since the previous call (for metrics). */
  takeDeliveryLag(): DeliveryLag {
    return { upstreamRead: summarize(this.lag.upstreamRead), logAppend: summarize(this.lag.logAppend) };
  }

  /** Once per followed batch and node, after the writes to the live clients. */
  private readonly recordLag = (entries: readonly LogEntry[], writtenAt: number): void => {
    for (const entry of entries) {
      if (entry.kind !== 'event') continue;
      if (entry.readAt !== undefined) this.lag.upstreamRead.record(Math.max(1, Math.round((writtenAt - entry.readAt) * 1000)));
      else this.lag.logAppend.record(Math.max(1, Math.round((performance.timeOrigin + writtenAt - entry.ts) * 1000)));
    }
  };

  /** Entries kept in the log, all models (for metrics). */
  async logSize(): Promise<{ entries: number; bytes: number } | undefined> {
    return this.log?.size();
  }

  /** True while this node runs the model's session (its socket may be open). */
  holds(modelId: string): boolean {
    return this.running.has(modelId);
  }

  /** Clients attached to the model on this node. */
  clientsOf(modelId: string): number {
    return this.clientsByModel.get(modelId) ?? 0;
  }

  /** For the overview: every model whose session this node holds or has clients of, now. */
  models(): SessionModelState[] {
    const models: SessionModelState[] = [];
    for (const [modelId, session] of this.running) models.push({ modelId, upstream: session.state, clients: this.clientsOf(modelId) });
    for (const [modelId, clients] of this.clientsByModel) if (!this.running.has(modelId)) models.push({ modelId, upstream: null, clients });
    return models;
  }

  // ── SessionAccess (for SessionLinks) ───────────────────────────────────────

  feed(modelId: string): ModelFeed {
    let feed = this.feeds.get(modelId);
    if (!feed) {
      const log = this.log;
      if (!log) throw new Error('sessions are not started');
      feed = new ModelFeed(
        modelId,
        log,
        (f) => {
          this.delivered += f.delivered;
          this.feeds.delete(modelId);
        },
        this.recordLag,
      );
      this.feeds.set(modelId, feed);
    }
    return feed;
  }

  /**
   * Sends a frame up the model's socket through its holder, which answers whether it went out
   * (false while the upstream reconnects: the frame is not kept for later).
   */
  async send(modelId: string, text: string): Promise<void> {
    await this.request(modelId, text);
  }

  request(modelId: string, text: string): Promise<string> {
    const bus = this.bus;
    if (!bus) return Promise.reject(new Error('sessions are not started'));
    if (this.pending.size >= MAX_PENDING_REQUESTS) return Promise.reject(new Error('Too many requests waiting for replies on this node'));
    const requestId = randomUUID();
    // The holder bounds its own wait; this one covers a holder that died meanwhile.
    const waitMs = this.opts.config.sessionRequestTimeoutMs * 2 + 1000;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new Error(`No reply within ${waitMs} ms`));
      }, waitMs);
      this.pending.set(requestId, { resolve, reject, timer });
      bus.send(modelId, { text, reply: { node: this.opts.nodeId, requestId } }).then(
        (sent) => {
          if (sent) return;
          this.settle(requestId, { requestId, error: { code: 'REQUEST_FAILED', message: 'The model\'s session is not running on any node' } });
        },
        (err: unknown) => this.settle(requestId, { requestId, error: { code: 'REQUEST_FAILED', message: (err as Error).message } }),
      );
    });
  }

  allowedActs(plan: string | null): readonly string[] {
    return planLimits(this.opts.config, plan).sessionAllowedActs;
  }

  attached(client: { readonly modelId: string }, on: boolean): void {
    const modelId = client.modelId;
    const n = (this.clientsByModel.get(modelId) ?? 0) + (on ? 1 : -1);
    if (n > 0) this.clientsByModel.set(modelId, n);
    else this.clientsByModel.delete(modelId);
    this.clientCount += on ? 1 : -1;
  }

  // ── the holder's side ──────────────────────────────────────────────────────

  private startSession(modelId: string, orgId: string, lease: Lease): RunningSession {
    const { config, store, logger, health, upstreamLimits } = this.opts;
    // Relay-mode sockets of a model just switched to session close first (the host gives the
    // lease back and tries again): one socket per model at every moment. With Redis the lease
    // script has already checked every node's.
    if (this.opts.relaying(modelId)) throw new Error('relay-mode sockets of the model are still closing');
    const bus = this.bus as SessionBus;
    let plan: string | null = null;
    void store.getSubscription(orgId).then(
      (s) => (plan = s?.plan ?? null),
      () => undefined,
    );
    const session = new ModelSession({
      modelId,
      orgId,
      lease,
      log: this.log as EventLog,
      store,
      health,
      upstreamLimits,
      settings: config,
      retention: () => {
        const limits = planLimits(config, plan);
        return { maxEvents: limits.eventLogMaxEvents, maxAgeMs: limits.eventLogMaxAgeMs };
      },
      logger,
      onLost: (reason) => {
        logger.warn({ modelId, reason }, 'session lost its right to append; ending it');
        this.host?.modelChanged(modelId).catch(() => undefined);
      },
    });
    this.running.set(modelId, session);
    const unfollow = this.opts.onSessionStarted?.(modelId, orgId, this.log as EventLog);
    const unserve = bus.serve(modelId, (command) => this.serveCommand(session, bus, command));
    const ended = (): void => {
      unserve();
      if (this.running.get(modelId) === session) {
        this.running.delete(modelId);
        this.endedReconnects += session.reconnects;
        this.endedEvents += session.eventsAppended;
      }
    };
    return {
      stop: async (reason) => {
        try {
          await session.stop(reason);
        } finally {
          ended();
          await unfollow?.();
        }
      },
      abort: (reason) => {
        ended();
        session.abort(reason);
        void unfollow?.();
      },
      modelChanged: () => session.modelChanged(),
    };
  }

  private serveCommand(session: ModelSession, bus: SessionBus, command: SessionCommand): void {
    const reply = command.reply;
    if (!reply) {
      session.send(command.text);
      return;
    }
    if (!isOnlinesRequest(command.text)) {
      // Any other act: sent now or not at all, and the sender is told which.
      const sent = session.send(command.text);
      const answer: SessionReply = sent
        ? { requestId: reply.requestId, text: 'true' }
        : { requestId: reply.requestId, error: { code: 'REQUEST_FAILED', message: "The model's OnlyFans socket is reconnecting; the frame was not sent" } };
      bus.reply(reply.node, answer).catch((err: unknown) => this.opts.logger.warn({ err }, 'sending a session reply failed'));
      return;
    }
    session.request(command.text).then(
      (text) => bus.reply(reply.node, { requestId: reply.requestId, text }),
      (err: unknown) => bus.reply(reply.node, { requestId: reply.requestId, error: { code: 'REQUEST_FAILED', message: (err as Error).message } }),
    ).catch((err: unknown) => this.opts.logger.warn({ err }, 'sending a session reply failed'));
  }

  private onReply(reply: SessionReply): void {
    this.settle(reply.requestId, reply);
  }

  private settle(requestId: string, reply: SessionReply): void {
    const p = this.pending.get(requestId);
    if (!p) return;
    this.pending.delete(requestId);
    clearTimeout(p.timer);
    if (reply.text !== undefined) p.resolve(reply.text);
    else p.reject(new Error(reply.error?.message ?? 'The request failed'));
  }
}
