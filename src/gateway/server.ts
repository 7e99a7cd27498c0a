/**
 * The gateway's HTTP server: routes `/api/models/{model_id}/ws` upgrades to relays, answers
 * everything else with JSON (426 for the relay path without an upgrade, 404 elsewhere), and
 * drains on shutdown (contract §1; issue: graceful shutdown with 1012).
 */
import { randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { planLimits, type GatewayConfig } from '../config.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import type { Admission, ConnectionRequest } from './admission.js';
import { CredentialRefresher } from '../upstream/credential-refresh.js';
import { upstreamTrust } from '../upstream/trust.js';
import { UpstreamHealth } from './upstream-health.js';
import { ChangeWatcher } from './change-watcher.js';
import { ConnectionLimits } from './limits/connection-limits.js';
import { startHeartbeat } from './heartbeat.js';
import { rejectHandshake, rejectUpgrade, sendJsonError } from './http-responses.js';
import { ClientConnection, type ConnectionContext } from './client-connection.js';
import type { ClientLink, LinkHost } from './client-link.js';
import { RelayLink, type RelayLinkContext } from './relay-link.js';
import { SessionLink } from './session-link.js';
import { MultiModelConnection } from './multi-connection.js';
import { MultiLink } from './multi-link.js';
import { GatewaySessions, type SessionStats } from './sessions.js';
import { acceptHandshake } from '../wire/handshake.js';
import { IGNORING_OWNER, Leg, type LegLimits } from '../wire/leg.js';
import { RelayRegistry, type ModelMembership } from './relay-registry.js';
import { RedisCoordinator, type LimitRefusal } from '../cluster/redis-coordinator.js';
import { sessionKeys } from '../sessions/types.js';
import type { ClusterNode, HeldSlot, NodeHost, RelayFilter, RelayView } from '../cluster/types.js';
import { announcingChanges } from '../cluster/announcing-store.js';
import { relayViews } from './relay-view.js';
import { OverviewSampler, type NodeOverview } from '../observability/overview.js';
import type { DeliveryLag, SessionModelState } from '../observability/observed.js';
import { apiKeyOf, decodeSegment } from './request-parts.js';
import { sseRoute } from './sse.js';
import type { TrackedConnection } from './tracked-connection.js';
import { WebhookService } from '../webhooks/service.js';

const RELAY_PATH = /^\/api\/models\/([^/]+)\/ws$/;
/** One socket for many models (sessions-contract.md §4). */
const MULTI_PATH = '/api/ws';

import type { HttpRoute } from '../http-route.js';
export type { HttpRoute };

export interface GatewayOptions {
  config: GatewayConfig;
  store: Store;
  logger: Logger;
  /**
   * Extra HTTP endpoints (health, metrics, management API…), tried in order before the
   * contract's 426/404 answers. A factory, because most of them need the gateway itself.
   */
  routes?: (gateway: Gateway) => HttpRoute[];
  /** Reported to the other nodes in the cluster view. */
  version?: string;
}

export class Gateway {
  readonly registry = new RelayRegistry();
  /**
   * The store; with Redis, every change made through it is announced to the other nodes, so
   * they read the change feed at once.
   */
  readonly store: Store;
  private readonly routes: HttpRoute[];
  /** `GET /api/models/{model_id}/events`: server-sent events (src/gateway/sse.ts). */
  private readonly sse: HttpRoute;
  private readonly limits: ConnectionLimits;
  private readonly config: GatewayConfig;
  private readonly logger: Logger;
  private readonly server: http.Server;
  private readonly clientLimits: LegLimits;
  private readonly watcher: ChangeWatcher;
  private readonly connectionContext: ConnectionContext;
  private readonly relayLinkContext: RelayLinkContext;
  private stopHeartbeat: (() => void) | undefined;
  private draining = false;
  private closing: Promise<void> | undefined;
  private drained: (() => void) | undefined;
  private readonly version: string;
  /** Set by listen() when `redis` is configured. */
  private coordinator: RedisCoordinator | undefined;
  /** Memberships holding a cluster-wide slot (released when they finish or leave). */
  private readonly slots = new Set<ModelMembership>();
  /** This node's id in the cluster view, in relay listings and in Redis. */
  readonly nodeId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  /** Session mode: the sessions this node holds and the feeds of its attached clients. */
  private readonly sessions: GatewaySessions;
  /** Webhooks: this node's delivery worker and the intake of the sessions it holds. */
  readonly webhooks: WebhookService;
  private readonly startedAt = new Date().toISOString();
  /** The dashboard's overview of this node: samples taken while listening (src/observability/overview.ts). */
  readonly overviewSampler: OverviewSampler;

  constructor({ config, store, logger, routes, version }: GatewayOptions) {
    this.config = config;
    this.version = version ?? 'unknown';
    this.store = config.redis ? announcingChanges(store, () => this.coordinator?.announceChange()) : store;
    this.logger = logger;
    this.server = http.createServer(
      {
        // The handshake deadline: a client that connects and sends nothing, or an
        // incomplete upgrade request, is cut off after handshakeTimeoutMs.
        headersTimeout: config.handshakeTimeoutMs,
        requestTimeout: config.handshakeTimeoutMs,
        connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(config.handshakeTimeoutMs / 4))),
        keepAliveTimeout: 5000,
      },
      (req, res) => this.onRequest(req, res),
    );
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.server.on('clientError', onClientError);
    this.clientLimits = {
      maxPayload: config.maxMessageBytes,
      maxFragments: config.maxFragments,
      maxBufferedChunks: config.maxBufferedChunks,
      closeTimeoutMs: config.closeTimeoutMs,
      lowWaterBytes: config.lowWaterBytes,
      maxBufferedBytes: config.hardCapBytes,
    };
    this.watcher = new ChangeWatcher(store, this.registry, config.changePollIntervalMs, logger);
    this.limits = new ConnectionLimits(config);
    const refresher = config.credentialRefreshUrl
      ? new CredentialRefresher({
          url: config.credentialRefreshUrl,
          secret: config.credentialRefreshSecret,
          timeoutMs: config.credentialRefreshTimeoutMs,
          store,
        })
      : undefined;
    const health = new UpstreamHealth(store, logger, refresher);
    const upstreamLimits = {
      ca: upstreamTrust(config.upstreamCaFile),
      connectTimeoutMs: config.upstreamConnectTimeoutMs,
      authTimeoutMs: config.upstreamAuthTimeoutMs,
      maxPayload: config.upstreamMaxMessageBytes,
      maxFragments: config.maxFragments,
      maxBufferedChunks: config.maxBufferedChunks,
      closeTimeoutMs: config.closeTimeoutMs,
      lowWaterBytes: config.lowWaterBytes,
      maxBufferedBytes: config.hardCapBytes,
    };
    this.relayLinkContext = { health, upstreamLimits, limits: config };
    this.webhooks = new WebhookService({ store: this.store.webhooks, nodeId: this.nodeId, config, logger });
    this.sessions = new GatewaySessions({
      config,
      store: this.store,
      logger,
      health,
      upstreamLimits,
      nodeId: this.nodeId,
      onSessionStarted: (modelId, orgId, log) => this.webhooks.follow(modelId, orgId, log),
      relaying: (modelId) => this.registry.countForModel(modelId, 'relay') > 0,
    });
    this.watcher.onModelChange = (modelId) => this.sessions.modelChanged(modelId);
    this.connectionContext = {
      store,
      health,
      logger,
      limits: config,
      admissionLimits: this.limits,
      messageRate: (plan) => {
        const limits = planLimits(config, plan);
        return { perSecond: limits.messagesPerSecond, burst: limits.messageBurst };
      },
      onAdmitted: (member) => this.admitted(member),
      onLeft: (member) => this.left(member),
      createLink: (host) => this.createLink(host),
      onFinished: (conn) => this.onRelayFinished(conn),
    };
    this.overviewSampler = new OverviewSampler(this, { intervalMs: config.overviewSampleMs });
    const gateway = this;
    this.sse = sseRoute({
      store,
      health,
      logger,
      admissionLimits: this.limits,
      settings: config,
      sessions: this.sessions,
      onAdmitted: (conn) => this.admitted(conn),
      onFinished: (conn) => this.onRelayFinished(conn),
      get draining() {
        return gateway.draining;
      },
      track: (stream) => this.registry.track(stream),
      changeSeq: () => this.watcher.seq,
      clientIpOf: (req) => this.clientIpOf(req),
    });
    this.routes = routes?.(this) ?? [];
  }

  /** True while shutting down: readiness checks answer "not ready". */
  get isDraining(): boolean {
    return this.draining;
  }

  /** Starts the change feed and the heartbeat, then listens; with `redis`, joins the cluster first. */
  async listen(): Promise<AddressInfo> {
    await this.watcher.start();
    try {
      if (this.config.redis) {
        this.coordinator = await RedisCoordinator.start({
          url: this.config.redis,
          prefix: this.config.redisPrefix,
          nodeTtlMs: this.config.nodeTtlMs,
          nodeId: this.nodeId,
          host: this.nodeHost(),
          logger: this.logger,
        });
      }
      await this.sessions.start();
      this.webhooks.start();
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(this.config.port, this.config.host, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await this.sessions.stop();
      await this.webhooks.stop();
      await this.coordinator?.close();
      await this.watcher.stop();
      throw err;
    }
    this.stopHeartbeat = startHeartbeat(this.registry, this.config.heartbeatIntervalMs);
    this.overviewSampler.start();
    return this.address();
  }

  /** False while a clustered gateway cannot reach Redis (new relays are refused meanwhile). */
  get coordinationAvailable(): boolean {
    return this.coordinator?.isAvailable ?? true;
  }

  /**
   * True when `redis` is configured: the node joins a cluster when it listens. Known from the
   * start, unlike {@link clustered}, so metrics can leave cluster-only series out altogether.
   */
  get joinsCluster(): boolean {
    return this.config.redis !== '';
  }

  /** True when this gateway coordinates with others through Redis. */
  get clustered(): boolean {
    return this.coordinator !== undefined;
  }

  /** The live relays on every node (this one only without Redis); `missing`: nodes that did not answer in time. */
  async listRelays(filter: RelayFilter = {}): Promise<{ relays: RelayView[]; missing: string[] }> {
    if (this.coordinator) return this.coordinator.listRelays(filter);
    return { relays: this.localRelays(filter), missing: [] };
  }

  /** Closes a relay on whichever node holds it (1000 "closed by operator"): what it was, or undefined when none does. */
  async closeRelay(id: string): Promise<RelayView | undefined> {
    if (this.coordinator) return this.coordinator.closeRelay(id);
    return this.closeLocalRelay(id);
  }

  /** The client's address as the gateway sees it (X-Forwarded-For's last entry when trustForwardedFor is set). */
  clientIpOf(req: IncomingMessage): string {
    return clientIpOf(req, this.config.trustForwardedFor);
  }

  /** Every node's overview (this one first; only this one without Redis); `missing`: nodes that did not answer in time. */
  async overviews(): Promise<{ nodes: NodeOverview[]; missing: string[] }> {
    if (this.coordinator) return this.coordinator.overviews();
    return { nodes: [this.overviewSampler.snapshot(this.nodeId)], missing: [] };
  }

  /** The cluster's live nodes, this one first (only this one without Redis). */
  async nodes(): Promise<ClusterNode[]> {
    if (this.coordinator) return this.coordinator.nodes();
    return [{ ...this.describeNode(), self: true }];
  }

  /** What this node registers about itself (as of now). */
  private describeNode(): Omit<ClusterNode, 'self'> {
    const address = this.server.address() as AddressInfo | null;
    return {
      id: this.nodeId,
      host: hostname(),
      pid: process.pid,
      address: address ? `${hostname()}:${address.port}` : '',
      version: this.version,
      startedAt: this.startedAt,
      lastSeenAt: new Date().toISOString(),
      relays: this.registry.all.size,
    };
  }

  private localRelays(filter: RelayFilter): RelayView[] {
    const orgId = filter.orgId?.toLowerCase();
    const modelId = filter.modelId?.toLowerCase();
    const views: RelayView[] = [];
    for (const pair of this.registry.all) {
      for (const view of relayViews(pair, this.nodeId)) {
        if (orgId !== undefined && view.orgId !== orgId) continue;
        if (modelId !== undefined && view.modelId !== modelId) continue;
        views.push(view);
      }
    }
    return views;
  }

  private closeLocalRelay(id: string): RelayView | undefined {
    const wanted = id.toLowerCase();
    for (const pair of this.registry.all) {
      if (pair.id === wanted) {
        // Taken before closing: a relay that is closing shows as such.
        const view = relayViews(pair, this.nodeId)[0];
        pair.closeByOperator();
        return view;
      }
    }
    return undefined;
  }

  private nodeHost(): NodeHost {
    return {
      describe: () => this.describeNode(),
      listRelays: (filter) => this.localRelays(filter),
      closeRelay: (id) => this.closeLocalRelay(id),
      changed: () => this.watcher.pollNow(),
      heldSlots: () => this.heldSlots(),
      overview: () => this.overviewSampler.snapshot(this.nodeId),
    };
  }

  private *heldSlots(): Iterable<HeldSlot> {
    for (const member of this.slots) if (member.admission) yield slotOf(member);
  }

  /** The upstream side of an admitted connection: its own OnlyFans socket, or the model's session. */
  private createLink(host: LinkHost): ClientLink {
    const conn = host as ClientConnection;
    if (conn instanceof MultiModelConnection) return new MultiLink(conn, this.sessions);
    if (conn.admission?.delivery === 'session') return new SessionLink(conn, this.sessions);
    return new RelayLink(conn, this.relayLinkContext);
  }

  /** Session mode, for metrics: sessions by state, clients, reconnects, events, deliveries. */
  sessionStats(): SessionStats {
    return this.sessions.stats();
  }

  /** Session mode, for metrics: how late live events reached this node's clients since the previous call. */
  sessionDeliveryLag(): DeliveryLag {
    return this.sessions.takeDeliveryLag();
  }

  /** Session mode, for the overview: the models this node holds or has clients of, now. */
  sessionModels(): SessionModelState[] {
    return this.sessions.models();
  }

  /** Entries kept in the event log (all models). */
  eventLogSize(): Promise<{ entries: number; bytes: number } | undefined> {
    return this.sessions.logSize();
  }

  /**
   * Checks 1–6 passed for a model: count it against its organization's and its model's limits —
   * on this node synchronously (two admissions here cannot both take the last slot), then,
   * with Redis, cluster-wide by an atomic script. Indexing comes first, so a change polled
   * meanwhile finds the relay; a refusal un-indexes it.
   * @throws {CoordinationError} when Redis cannot be asked.
   */
  private async admitted(member: ModelMembership): Promise<GatewayError | undefined> {
    const a = member.admission as Admission;
    const pair = member.connection;
    // A model just switched back to relay: its session closes its socket first (one socket per
    // model at every moment), so a relay waits for that — on a single node here; with Redis the
    // limit script below waits for every node's, this one's included.
    if (!this.coordinator && a.delivery === 'relay' && this.sessions.holds(a.modelId) && !(await this.sessionEnded(pair))) return sessionStillClosing();
    const overLimit = this.limits.checkConcurrency(this.registry, a);
    if (overLimit) return overLimit;
    this.registry.index(member);
    this.watcher.recheck(member, pair.changeSeq);
    const coordinator = this.coordinator;
    if (!coordinator) return undefined;
    const slot = slotOf(member);
    let refused: LimitRefusal | undefined;
    try {
      const leaseKey = a.delivery === 'relay' ? sessionKeys(this.config.redisPrefix).lease(a.modelId) : undefined;
      const orgLimit = planLimits(this.config, a.plan).maxRelaysPerOrg;
      // The limit script refuses a relay slot while the model's session lease exists, on any node.
      for (let waited = 0; ; waited += SESSION_POLL_MS) {
        refused = await coordinator.acquire(slot, orgLimit, this.limits.modelLimit(a), leaseKey);
        if (refused !== 'session' || waited >= this.config.closeTimeoutMs + 1000 || !this.registry.all.has(pair)) break;
        await sleep(SESSION_POLL_MS);
      }
    } catch (err) {
      this.registry.unindex(member);
      throw err;
    }
    if (refused) {
      this.registry.unindex(member);
      if (refused === 'session') return sessionStillClosing();
      return refused === 'organization' ? this.limits.orgLimitError(a.plan) : this.limits.modelLimitError(a);
    }
    // The client may have left while Redis answered: its finish found no slot to release.
    if (this.registry.all.has(pair)) this.slots.add(member);
    else coordinator.release(slot);
    return undefined;
  }

  /** A model left a multi-model socket that stays open: it no longer counts anywhere. */
  private left(member: ModelMembership): void {
    this.registry.unindex(member);
    if (this.slots.delete(member)) this.coordinator?.release(slotOf(member));
  }

  /** Waits (bounded by closeTimeoutMs) for this node's session of the model to close its socket. */
  private async sessionEnded(pair: TrackedConnection): Promise<boolean> {
    const modelId = (pair.admission as Admission).modelId;
    for (let waited = 0; waited < this.config.closeTimeoutMs + 1000; waited += SESSION_POLL_MS) {
      await sleep(SESSION_POLL_MS);
      if (!this.sessions.holds(modelId)) return true;
      if (!this.registry.all.has(pair)) return false;
    }
    return false;
  }

  /** The last store change applied to live relays. */
  get appliedChangeSeq(): number {
    return this.watcher.seq;
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /**
   * Graceful shutdown: stop accepting, close every relay with 1012 (its upstream with 1001),
   * wait up to shutdownTimeoutMs for the close handshakes, then destroy what is left.
   */
  close(): Promise<void> {
    this.closing ??= this.drain();
    return this.closing;
  }

  private async drain(): Promise<void> {
    this.draining = true;
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    this.stopHeartbeat?.();
    this.overviewSampler.stop();
    this.limits.close();
    await this.watcher.stop();
    try {
      await this.drainRelays();
      // Each session's socket is closed before its lease is released, so a node taking it over
      // never overlaps with this one.
      await this.sessions.stop();
      // After the sessions: their intakes have enqueued the last events; attempts in flight finish.
      await this.webhooks.stop();
    } finally {
      // After the relays: their slots are released one by one, then the registration goes.
      await this.coordinator?.close();
    }
    this.server.closeAllConnections();
    await serverClosed;
  }

  private async drainRelays(): Promise<void> {
    const relays = this.registry.all.size;
    if (relays > 0) {
      this.logger.info({ relays }, 'draining relays');
      const allClosed = new Promise<void>((resolve) => (this.drained = resolve));
      for (const pair of this.registry.all) pair.shutdown();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.config.shutdownTimeoutMs)));
      await Promise.race([allClosed, deadline]);
      clearTimeout(timer);
      // Past the deadline: destroy the rest. Their close events follow promptly.
      for (const pair of this.registry.all) pair.destroy();
      await allClosed;
    }
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (this.sse(req, res)) return;
    for (const route of this.routes) if (route(req, res)) return;
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    sendJsonError(res, RELAY_PATH.test(path) || path === MULTI_PATH ? 'UPGRADE_REQUIRED' : 'NOT_FOUND');
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', ignoreSocketError);
    if (this.draining) return rejectUpgrade(socket, 'SHUTTING_DOWN');
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const match = RELAY_PATH.exec(path);
    const multi = path === MULTI_PATH;
    if (!match && !multi) return rejectUpgrade(socket, 'NOT_FOUND');
    if (req.headers.upgrade?.toLowerCase() !== 'websocket') return rejectUpgrade(socket, 'UPGRADE_REQUIRED');
    const request: ConnectionRequest = {
      apiKey: apiKeyOf(req, q === -1 ? '' : url.slice(q + 1)),
      // A multi-model socket names its models in the query (models=…).
      modelId: match ? decodeSegment(match[1] ?? '') : '',
      clientIp: clientIpOf(req, this.config.trustForwardedFor),
    };
    // The upgrade always completes first, so a browser can read why a connection failed.
    const accepted = acceptHandshake(req);
    if (typeof accepted !== 'string') return rejectHandshake(socket, accepted);
    if (!socket.readable || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.write(accepted);
    const client = new Leg(socket as Socket, true, this.clientLimits, IGNORING_OWNER);
    const conn = multi ? new MultiModelConnection(client, this.connectionContext, this.config.maxModelsPerSocket) : new ClientConnection(client, this.connectionContext);
    this.registry.track(conn);
    if (head.length > 0) client.receive(head);
    void conn.start(request, this.watcher.seq, q === -1 ? '' : url.slice(q + 1));
  }

  private onRelayFinished(pair: TrackedConnection): void {
    for (const member of pair.memberships()) if (this.slots.delete(member)) this.coordinator?.release(slotOf(member));
    this.registry.untrack(pair);
    // A relay closed because its model switched to session mode: the session may start now.
    if (pair.outcome === 'DELIVERY_CHANGED' && pair.admission?.delivery === 'relay') this.sessions.modelChanged(pair.admission.modelId);
    if (this.registry.all.size === 0) this.drained?.();
    if (!this.logger.isLevelEnabled('info')) return;
    const now = Date.now();
    this.logger.info(
      {
        ...pair.logFields(),
        outcome: pair.outcome,
        clientCloseCode: pair.clientCloseCode,
        upstreamCloseCode: pair.upstreamCloseCode,
        durationMs: now - pair.startedAt,
        openMs: pair.openedAt === undefined ? undefined : now - pair.openedAt,
        ...pair.traffic,
      },
      'relay closed',
    );
  }
}

/** How often a relay waiting for a model's session to close checks again. */
const SESSION_POLL_MS = 50;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function sessionStillClosing(): GatewayError {
  return new GatewayError('CONNECTION_LIMIT', "The model's shared session is still closing its OnlyFans socket; retry in a moment", { retryAfterMs: 1000 });
}

/**
 * A connection's cluster-wide slot. Session clients count in their own per-model hash: they share
 * the model's one OnlyFans socket, so they are capped by maxSessionClientsPerModel, not by the
 * model's socket limit.
 */
function slotOf(member: ModelMembership): HeldSlot {
  const a = member.admission as Admission;
  return { relayId: member.slotId, orgId: a.orgId, modelId: a.delivery === 'session' ? `session-clients:${a.modelId}` : a.modelId };
}

/**
 * The client's address for per-IP limits. Behind a proxy (trustForwardedFor), the last
 * X-Forwarded-For entry is the address the proxy itself saw; earlier entries are the
 * client's own claims.
 */
export function clientIpOf(req: IncomingMessage, trustForwardedFor: boolean): string {
  if (trustForwardedFor) {
    const header = req.headers['x-forwarded-for'];
    const last = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').pop()?.trim();
    if (last) return last;
  }
  return req.socket.remoteAddress ?? 'unknown';
}

function ignoreSocketError(): void {
  // A client reset before or during the upgrade is not the gateway's error; ws and the
  // relay see the close that follows.
}

function onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // Timeouts (408) and malformed requests (400): answer if we still can, then drop.
  if (socket.writable && err.code !== 'ECONNRESET') {
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }
  socket.destroy();
}
