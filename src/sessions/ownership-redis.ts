/**
 * Session ownership across a cluster: a model's lease is a Redis key `<nodeId> <token>` that
 * expires after `ttlMs` unless its holder renews it; the fencing token comes from a counter
 * per model that only grows (./ownership-scripts.ts).
 *
 * A holder must stop before anybody else can take over. Redis starts a lease's expiry when it
 * runs the command, which is after this node sent it, so a lease is believed valid only until
 * the moment the request was sent plus `ttlMs`, minus a margin for clock drift and late timers
 * (`validUntil`, on the monotonic clock). A renewal that cannot reach Redis throws rather than
 * answering "lost": the lease may well still be ours, and the host decides with `validUntil`.
 */
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { ACQUIRE_LEASE, RELEASE_LEASE, RENEW_LEASE } from './ownership-scripts.js';
import { sessionKeys, type Lease, type Ownership } from './types.js';
import { redisWhere } from '../cluster/redis-where.js';

/** A single Redis command gives up after this (as the cluster coordinator's do). */
const COMMAND_TIMEOUT_MS = 1000;

export interface RedisOwnershipOptions {
  url: string;
  /** The `redisPrefix` setting. */
  prefix: string;
  nodeId: string;
  /** How long a lease lasts without renewal (the `nodeTtlMs` setting). */
  ttlMs: number;
}

/** Redis could not be reached or did not answer in time; the lease's state is unknown. */
export class OwnershipUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OwnershipUnavailableError';
  }
}

/**
 * How much earlier than Redis a holder gives its lease up: a fifth of the TTL (the renewal
 * period: one missed renewal is tolerated) plus 200 ms for timers firing late and clocks that
 * run at slightly different rates.
 */
export function safetyMarginMs(ttlMs: number): number {
  return Math.floor(ttlMs / 5) + 200;
}


export class RedisOwnership implements Ownership {
  readonly nodeId: string;
  private readonly redis: Redis;
  private readonly keys: ReturnType<typeof sessionKeys>;
  private readonly ttlMs: number;
  private readonly where: string;

  private constructor(opts: RedisOwnershipOptions, redis: Redis) {
    this.nodeId = opts.nodeId;
    this.redis = redis;
    this.keys = sessionKeys(opts.prefix);
    this.ttlMs = opts.ttlMs;
    this.where = redisWhere(opts.url);
  }

  /**
   * Connects to Redis.
   * @throws {OwnershipUnavailableError} naming the address when Redis cannot be reached.
   * @example const ownership = await RedisOwnership.start({ url, prefix: 'ofgw:', nodeId, ttlMs: 10_000 })
   */
  static async start(opts: RedisOwnershipOptions): Promise<RedisOwnership> {
    // The lease's value is `<nodeId> <token>`.
    if (opts.nodeId.includes(' ')) throw new Error(`node id "${opts.nodeId}" must not contain a space`);
    if (safetyMarginMs(opts.ttlMs) >= opts.ttlMs) throw new Error(`nodeTtlMs ${opts.ttlMs} is too short for session leases (must be over 250 ms)`);
    const redis = new Redis(opts.url, {
      lazyConnect: true,
      connectTimeout: COMMAND_TIMEOUT_MS,
      commandTimeout: COMMAND_TIMEOUT_MS,
      // Fail at once while Redis is away rather than queue: a renewal answered late is worth
      // less than one known to have failed (validUntil decides either way).
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
      connectionName: `ofgw:${opts.nodeId}:sessions`,
    });
    // Errors surface on the commands; an unhandled 'error' event would end the process.
    redis.on('error', () => undefined);
    const ownership = new RedisOwnership(opts, redis);
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect();
      throw new OwnershipUnavailableError(`cannot reach Redis at ${redisWhere(opts.url)} for session leases: ${(err as Error).message}`, { cause: err });
    }
    return ownership;
  }

  async tryAcquire(modelId: string): Promise<Lease | null> {
    const sent = performance.now();
    const token = await this.call('acquire', () => this.redis.eval(ACQUIRE_LEASE, 3, this.keys.lease(modelId), this.keys.fence(modelId), this.keys.relaySlots(modelId), this.nodeId, this.ttlMs, this.keys.nodePrefix));
    if (token === null) return null;
    return { modelId, token: Number(token), validUntil: this.validFrom(sent) };
  }

  /** Extends the lease and moves its `validUntil` on; throws when Redis cannot tell. */
  async renew(lease: Lease): Promise<boolean> {
    const sent = performance.now();
    const renewed = await this.call('renew', () => this.redis.eval(RENEW_LEASE, 1, this.keys.lease(lease.modelId), this.value(lease), this.ttlMs));
    if (renewed !== 1) return false;
    lease.validUntil = Math.max(lease.validUntil, this.validFrom(sent));
    return true;
  }

  async release(lease: Lease): Promise<void> {
    await this.call('release', () => this.redis.eval(RELEASE_LEASE, 1, this.keys.lease(lease.modelId), this.value(lease)));
  }

  async holder(modelId: string): Promise<string | null> {
    const value = await this.call('read', () => this.redis.get(this.keys.lease(modelId)));
    if (typeof value !== 'string') return null;
    return value.split(' ')[0] ?? null;
  }

  /** Disconnects; leases are left to their holder's releases or to expiry. */
  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      // Already disconnected.
    }
    this.redis.disconnect();
  }

  private value(lease: Lease): string {
    return `${this.nodeId} ${lease.token}`;
  }

  private validFrom(sent: number): number {
    return sent + this.ttlMs - safetyMarginMs(this.ttlMs);
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw new OwnershipUnavailableError(`Redis at ${this.where} did not answer the session lease ${what}: ${(err as Error).message}`, { cause: err });
    }
  }
}
