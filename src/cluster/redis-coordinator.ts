/**
 * What the nodes of a cluster share right now, through Redis (issue 6, items 2–4):
 *
 * - a change made on one node (a revoked key, a disconnected model, an ended subscription) is
 *   announced on a channel, so every node reads the store's change feed at once instead of at
 *   its next poll (the poll stays, and covers changes made while Redis was away);
 * - the per-organization relay limit and the per-model OnlyFans socket limit are counted
 *   cluster-wide by atomic scripts (./scripts.ts);
 * - nodes register with a heartbeat (a key that expires after nodeTtlMs), which is how the
 *   others know which slots still count and which nodes to ask for the cluster view;
 * - requests to every node (list your relays, close this relay, your overview) go out on a channel and come
 *   back on the asker's own reply channel.
 *
 * Redis being away never touches a working relay: new admissions fail clearly (1011, logged),
 * releases are remembered and replayed, and on reconnect the node registers again and
 * re-asserts every slot it holds (Redis may have restarted empty).
 */
import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../log.js';
import { ACQUIRE, RELEASE } from './scripts.js';
import type { NodeOverview } from '../observability/overview.js';
import type { ClusterNode, HeldSlot, NodeHost, RelayFilter, RelayView } from './types.js';
import { redisWhere } from './redis-where.js';

/** Waits for the other nodes' answers to a cluster request at most this long. */
export const REQUEST_TIMEOUT_MS = 1000;
/** A single Redis command (including a limit script) gives up after this. */
const COMMAND_TIMEOUT_MS = 1000;
/** Releases remembered while Redis is away; past this the oldest are dropped (they expire with the node anyway). */
const MAX_UNSENT_RELEASES = 100_000;

export interface RedisCoordinatorOptions {
  url: string;
  prefix: string;
  nodeTtlMs: number;
  /** This node's id (the gateway's). */
  nodeId: string;
  host: NodeHost;
  logger: Logger;
}

/** The limit a refused acquisition would cross. */
export type LimitRefusal = 'organization' | 'model' | 'session';

/** Redis could not be reached or did not answer in time. */
export class CoordinationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CoordinationError';
  }
}

interface ClusterRequest {
  t: 'req';
  id: string;
  from: string;
  op: 'list' | 'close' | 'overview';
  filter?: RelayFilter;
  relayId?: string;
}

interface ClusterReply {
  t: 'rep';
  id: string;
  node: string;
  relays?: RelayView[];
  closed?: boolean;
  /** The relay it closed, for the operator trail. */
  relay?: RelayView;
  overview?: NodeOverview;
}

interface PendingRequest {
  waiting: Set<string>;
  replies: ClusterReply[];
  done: () => void;
}


export class RedisCoordinator {
  readonly nodeId: string;
  private readonly cmd: Redis;
  private readonly sub: Redis;
  private readonly opts: RedisCoordinatorOptions;
  private readonly where: string;
  private readonly keys: { nodes: string; nodePrefix: string; changes: string; requests: string; replies: string };
  private readonly pending = new Map<string, PendingRequest>();
  private unsentReleases: HeldSlot[] = [];
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private registered = false;
  private available = false;
  private closed = false;

  private constructor(opts: RedisCoordinatorOptions) {
    this.opts = opts;
    this.nodeId = opts.nodeId;
    this.where = redisWhere(opts.url);
    const p = opts.prefix;
    this.keys = {
      nodes: `${p}nodes`,
      nodePrefix: `${p}node:`,
      changes: `${p}changes`,
      requests: `${p}requests`,
      replies: `${p}replies:${this.nodeId}`,
    };
    const common: RedisOptions = {
      lazyConnect: true,
      connectTimeout: COMMAND_TIMEOUT_MS,
      // Reconnect for ever, a little slower each time, never more than 2 s apart.
      retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
      maxRetriesPerRequest: 0,
    };
    // Commands fail at once while Redis is away, rather than queueing behind a reconnect:
    // an admission must not hang, and a relay must not wait for Redis.
    this.cmd = new Redis(opts.url, { ...common, enableOfflineQueue: false, commandTimeout: COMMAND_TIMEOUT_MS, connectionName: `ofgw:${this.nodeId}` });
    this.sub = new Redis(opts.url, { ...common, connectionName: `ofgw:${this.nodeId}:sub` });
    this.cmd.on('error', (err: Error) => this.unavailable(err));
    this.sub.on('error', (err: Error) => this.unavailable(err));
    this.cmd.on('close', () => this.unavailable(new Error('connection closed')));
    this.cmd.on('ready', () => void this.reconnected());
    this.sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
  }

  /**
   * Connects, registers this node and subscribes.
   * @throws {CoordinationError} naming the address when Redis cannot be reached.
   */
  static async start(opts: RedisCoordinatorOptions): Promise<RedisCoordinator> {
    const coordinator = new RedisCoordinator(opts);
    try {
      await Promise.all([coordinator.cmd.connect(), coordinator.sub.connect()]);
      await coordinator.sub.subscribe(coordinator.keys.changes, coordinator.keys.requests, coordinator.keys.replies);
      await coordinator.register();
    } catch (err) {
      coordinator.closed = true;
      coordinator.cmd.disconnect();
      coordinator.sub.disconnect();
      throw new CoordinationError(`cannot reach Redis at ${coordinator.where}: ${(err as Error).message}`, { cause: err });
    }
    coordinator.available = true;
    opts.logger.info({ nodeId: coordinator.nodeId, redis: coordinator.where, prefix: opts.prefix }, 'cluster joined');
    coordinator.heartbeatTimer = setInterval(() => void coordinator.heartbeat(), Math.max(200, Math.floor(opts.nodeTtlMs / 5)));
    coordinator.heartbeatTimer.unref();
    return coordinator;
  }

  /** True while the command connection is up. */
  get isAvailable(): boolean {
    return this.available;
  }

  /**
   * Takes a slot for the relay in its organization and its model, unless either is full
   * cluster-wide — or, given the model's session lease key (a relay-mode connection), while a
   * session still holds the model's socket.
   * @returns undefined when taken, else which limit is reached.
   * @throws {CoordinationError} when Redis is away or slow.
   */
  async acquire(slot: HeldSlot, orgLimit: number, modelLimit: number, sessionLeaseKey?: string): Promise<LimitRefusal | undefined> {
    let result: unknown;
    try {
      const keys = [this.orgKey(slot.orgId), this.modelKey(slot.modelId), ...(sessionLeaseKey ? [sessionLeaseKey] : [])];
      result = await this.cmd.eval(ACQUIRE, keys.length, ...keys, slot.relayId, this.nodeId, orgLimit, modelLimit, this.keys.nodePrefix);
    } catch (err) {
      throw new CoordinationError(`Redis at ${this.where} did not answer the limit check: ${(err as Error).message}`, { cause: err });
    }
    if (result === 1) return 'organization';
    if (result === 2) return 'model';
    if (result === 3) return 'session';
    return undefined;
  }

  /** Gives the relay's slot back; remembered and replayed if Redis is away. */
  release(slot: HeldSlot): void {
    if (!this.available) {
      this.rememberRelease(slot);
      return;
    }
    this.cmd.eval(RELEASE, 2, this.orgKey(slot.orgId), this.modelKey(slot.modelId), slot.relayId).catch(() => this.rememberRelease(slot));
  }

  /** Tells every node (this one included) to read the change feed now. */
  announceChange(): void {
    if (!this.available) return; // the others' polls will see it
    this.cmd.publish(this.keys.changes, this.nodeId).catch(() => {
      // Same: the change feed poll covers it.
    });
  }

  /**
   * The live nodes, this one first.
   * @throws {CoordinationError} when Redis is away.
   */
  async nodes(): Promise<ClusterNode[]> {
    const values = await this.asking(async () => {
      const ids = await this.liveNodeIds();
      return ids.length ? this.cmd.mget(...ids.map((id) => this.keys.nodePrefix + id)) : [];
    });
    const nodes: ClusterNode[] = [];
    for (const value of values) {
      if (value === null) continue;
      try {
        const node = JSON.parse(value) as ClusterNode;
        nodes.push({ ...node, self: node.id === this.nodeId });
      } catch {
        // Not ours to fail on: another version's format. Skip it.
      }
    }
    return nodes.sort((a, b) => Number(b.self) - Number(a.self) || a.id.localeCompare(b.id));
  }

  /** Every node's relays matching `filter`; `missing` names the nodes that did not answer in time. */
  async listRelays(filter: RelayFilter): Promise<{ relays: RelayView[]; missing: string[] }> {
    const { replies, missing } = await this.ask({ op: 'list', filter });
    const relays = this.opts.host.listRelays(filter);
    for (const reply of replies) relays.push(...(reply.relays ?? []));
    return { relays, missing };
  }

  /** Every node's overview, this one first; `missing` names the nodes that did not answer in time. */
  async overviews(): Promise<{ nodes: NodeOverview[]; missing: string[] }> {
    const { replies, missing } = await this.ask({ op: 'overview' });
    const nodes = [this.opts.host.overview()];
    for (const reply of replies) if (reply.overview) nodes.push(reply.overview);
    return { nodes, missing };
  }

  /** Closes the relay on whichever node holds it: what it was, or undefined when no node answered that it did. */
  async closeRelay(relayId: string): Promise<RelayView | undefined> {
    const here = this.opts.host.closeRelay(relayId);
    if (here) return here;
    const { replies } = await this.ask({ op: 'close', relayId });
    return replies.find((r) => r.closed === true && r.relay !== undefined)?.relay;
  }

  /** Deregisters (the node's slots stop counting at once) and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    for (const request of this.pending.values()) request.done();
    if (this.available) {
      try {
        await this.cmd.multi().del(this.keys.nodePrefix + this.nodeId).zrem(this.keys.nodes, this.nodeId).exec();
      } catch {
        // Redis away: the registration expires by itself after nodeTtlMs.
      }
    }
    this.available = false;
    await Promise.allSettled([this.cmd.quit(), this.sub.quit()]);
    this.cmd.disconnect();
    this.sub.disconnect();
  }

  private orgKey(orgId: string): string {
    return `${this.opts.prefix}org:${orgId}`;
  }

  private modelKey(modelId: string): string {
    return `${this.opts.prefix}model:${modelId}`;
  }

  private rememberRelease(slot: HeldSlot): void {
    this.unsentReleases.push(slot);
    if (this.unsentReleases.length > MAX_UNSENT_RELEASES) this.unsentReleases.splice(0, this.unsentReleases.length - MAX_UNSENT_RELEASES);
  }


  /** Writes the registration; returns true if it had lapsed (expired, or Redis restarted empty). */
  private async register(): Promise<boolean> {
    const key = this.keys.nodePrefix + this.nodeId;
    const [[, previous] = []] = (await this.cmd
      .multi()
      .set(key, JSON.stringify(this.opts.host.describe()), 'PX', this.opts.nodeTtlMs, 'GET')
      .zadd(this.keys.nodes, Date.now(), this.nodeId)
      .exec()) ?? [];
    const lapsed = this.registered && previous === null;
    this.registered = true;
    return lapsed;
  }

  private async heartbeat(): Promise<void> {
    if (this.closed || !this.available) return;
    try {
      if (await this.register()) {
        this.opts.logger.warn({ nodeId: this.nodeId }, 'cluster registration had lapsed: re-asserting this node\'s slots');
        await this.reassertSlots();
      }
      // Releases that failed while the connection stayed up (a command timeout).
      await this.replayReleases();
    } catch (err) {
      this.unavailable(err as Error);
    }
  }

  /** Sends the releases remembered while Redis did not take them; returns how many. */
  private async replayReleases(): Promise<number> {
    const releases = this.unsentReleases;
    if (releases.length === 0) return 0;
    this.unsentReleases = [];
    const batch = this.cmd.pipeline();
    for (const slot of releases) batch.eval(RELEASE, 2, this.orgKey(slot.orgId), this.modelKey(slot.modelId), slot.relayId);
    let results: [Error | null, unknown][];
    try {
      results = (await batch.exec()) ?? [];
    } catch (err) {
      this.unsentReleases = releases.concat(this.unsentReleases);
      throw err;
    }
    results.forEach(([err], i) => {
      if (err) this.rememberRelease(releases[i] as HeldSlot);
    });
    return releases.length;
  }

  /** Back after an outage: register, replay releases, re-assert every slot held here. */
  private async reconnected(): Promise<void> {
    if (this.closed || !this.registered) return; // the first connect is start()'s
    try {
      await this.register();
      const replayed = await this.replayReleases();
      await this.reassertSlots();
      this.available = true;
      this.opts.logger.info({ nodeId: this.nodeId, replayedReleases: replayed, redis: this.where }, 'cluster coordination restored');
      // Changes announced while away were missed: read the feed now.
      this.opts.host.changed();
    } catch (err) {
      this.unavailable(err as Error);
    }
  }

  private async reassertSlots(): Promise<void> {
    const batch = this.cmd.pipeline();
    for (const slot of this.opts.host.heldSlots()) {
      batch.hset(this.orgKey(slot.orgId), slot.relayId, this.nodeId);
      batch.hset(this.modelKey(slot.modelId), slot.relayId, this.nodeId);
    }
    await batch.exec();
  }

  private unavailable(err: Error): void {
    if (this.closed) return;
    if (this.available) {
      this.opts.logger.warn({ nodeId: this.nodeId, redis: this.where, error: err.message }, 'cluster coordination unavailable: new relays are refused until Redis is back; open relays go on');
    }
    this.available = false;
  }

  private async liveNodeIds(): Promise<string[]> {
    const ids = await this.cmd.zrange(this.keys.nodes, 0, -1);
    if (ids.length === 0) return [];
    const exists = await this.cmd.mget(...ids.map((id) => this.keys.nodePrefix + id));
    const dead = ids.filter((_, i) => exists[i] === null);
    if (dead.length) await this.cmd.zrem(this.keys.nodes, ...dead);
    return ids.filter((_, i) => exists[i] !== null);
  }

  /** Sends a request to every other live node and collects the answers (bounded by REQUEST_TIMEOUT_MS). */
  private async ask(body: Pick<ClusterRequest, 'op' | 'filter' | 'relayId'>): Promise<{ replies: ClusterReply[]; missing: string[] }> {
    const others = (await this.asking(() => this.liveNodeIds())).filter((id) => id !== this.nodeId);
    if (others.length === 0) return { replies: [], missing: [] };
    const id = randomUUID();
    const request: PendingRequest = { waiting: new Set(others), replies: [], done: () => undefined };
    const finished = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, REQUEST_TIMEOUT_MS);
      request.done = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.pending.set(id, request);
    try {
      const message: ClusterRequest = { t: 'req', id, from: this.nodeId, ...body };
      await this.asking(() => this.cmd.publish(this.keys.requests, JSON.stringify(message)));
      await finished;
    } finally {
      this.pending.delete(id);
    }
    return { replies: request.replies, missing: [...request.waiting] };
  }

  /** Runs Redis commands for a cluster question; any failure becomes a CoordinationError. */
  private async asking<T>(call: () => Promise<T>): Promise<T> {
    if (!this.available) throw new CoordinationError(`Redis at ${this.where} is unavailable`);
    try {
      return await call();
    } catch (err) {
      throw new CoordinationError(`Redis at ${this.where} did not answer: ${(err as Error).message}`, { cause: err });
    }
  }

  private onMessage(channel: string, message: string): void {
    if (channel === this.keys.changes) {
      this.opts.host.changed();
      return;
    }
    let parsed: ClusterRequest | ClusterReply;
    try {
      parsed = JSON.parse(message) as ClusterRequest | ClusterReply;
    } catch {
      return; // not a message of ours
    }
    if (channel === this.keys.requests && parsed.t === 'req') this.answer(parsed);
    else if (channel === this.keys.replies && parsed.t === 'rep') {
      const request = this.pending.get(parsed.id);
      if (!request) return; // answered after the deadline
      request.replies.push(parsed);
      request.waiting.delete(parsed.node);
      if (request.waiting.size === 0) request.done();
    }
  }

  private answer(request: ClusterRequest): void {
    if (request.from === this.nodeId) return;
    const reply: ClusterReply = { t: 'rep', id: request.id, node: this.nodeId };
    if (request.op === 'list') reply.relays = this.opts.host.listRelays(request.filter ?? {});
    else if (request.op === 'overview') reply.overview = this.opts.host.overview();
    else if (request.op === 'close' && typeof request.relayId === 'string') {
      reply.relay = this.opts.host.closeRelay(request.relayId);
      reply.closed = reply.relay !== undefined;
    }
    this.cmd.publish(`${this.opts.prefix}replies:${request.from}`, JSON.stringify(reply)).catch(() => {
      // The asker times out and reports this node as missing.
    });
  }
}
