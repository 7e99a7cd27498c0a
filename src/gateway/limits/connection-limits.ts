/**
 * The gateway's admission limits (issue 4, item 5), each with a documented default in
 * src/config.ts and, where it concerns a customer, a per-plan override:
 *
 * - connection attempts per client IP, and failed authentications per IP (key guessing):
 *   checked before the store is touched → RATE_LIMITED with retryAfterMs;
 * - connection attempts per API key (per plan) → RATE_LIMITED with retryAfterMs;
 * - concurrent relays per organization (per plan) and concurrent OnlyFans sockets per model
 *   (protecting the model's account) → CONNECTION_LIMIT.
 *
 * The per-relay message rate is enforced by the relay itself, with the plan's numbers.
 */
import { planLimits, type GatewayConfig } from '../../config.js';
import { GatewayError } from '../../errors.js';
import type { Admission } from '../admission.js';
import type { RelayRegistry } from '../relay-registry.js';
import { TokenBuckets } from './token-buckets.js';

const SWEEP_INTERVAL_MS = 60_000;

export class ConnectionLimits {
  private readonly ipAttempts = new TokenBuckets();
  private readonly ipFailures = new TokenBuckets();
  private readonly keyAttempts = new TokenBuckets();
  /** The plan each key bucket was last used with, so the sweep refills it at the right rate. */
  private readonly keyPlans = new Map<string, string | null>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly config: GatewayConfig) {
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  /** Before any check: the IP's attempt budget, and whether it has failed authentication too often. */
  checkIp(ip: string): GatewayError | undefined {
    const c = this.config;
    const failureWait = this.ipFailures.peek(ip, c.ipAuthFailureBurst, c.ipAuthFailurePerMinute / 60);
    if (failureWait > 0) return rateLimited('Too many failed authentications from this address', failureWait);
    const wait = this.ipAttempts.take(ip, c.ipConnectBurst, c.ipConnectPerSecond);
    if (wait > 0) return rateLimited(`Too many connection attempts from this address (limit ${c.ipConnectPerSecond}/s)`, wait);
    return undefined;
  }

  /**
   * Runs a connection's checks behind the IP's limits, whatever carries it (WebSocket or SSE):
   * the IP's attempt budget first, then `admit`; a failed authentication (no key, or a bad one)
   * spends from the IP's failure budget.
   * @throws {GatewayError} RATE_LIMITED, or whatever `admit` throws.
   */
  async admitFrom<T>(ip: string, admit: () => Promise<T>): Promise<T> {
    const ipLimited = this.checkIp(ip);
    if (ipLimited) throw ipLimited;
    try {
      return await admit();
    } catch (err) {
      if (err instanceof GatewayError && (err.code === 'NO_API_KEY' || err.code === 'INVALID_API_KEY')) this.authFailed(ip);
      throw err;
    }
  }

  /** A failed authentication (no key, or a bad one) spends from the IP's failure budget. */
  authFailed(ip: string): void {
    this.ipFailures.take(ip, this.config.ipAuthFailureBurst, this.config.ipAuthFailurePerMinute / 60);
  }

  /** After the key and subscription checks: the key's attempt budget under its plan. */
  checkKey(keyId: string, plan: string | null): GatewayError | undefined {
    const limits = planLimits(this.config, plan);
    this.keyPlans.set(keyId, plan);
    const wait = this.keyAttempts.take(keyId, limits.keyConnectBurst, limits.keyConnectPerSecond);
    if (wait > 0) return rateLimited(`Too many connection attempts with this API key (limit ${limits.keyConnectPerSecond}/s)`, wait);
    return undefined;
  }

  /**
   * Once checks 1–6 passed, before the connection counts: the organization's concurrent
   * connections, then the model's — its OnlyFans sockets in relay mode, its attached clients in
   * session mode (they share one socket). Synchronous with indexing, so two admissions in this
   * process cannot both take the last slot.
   */
  checkConcurrency(registry: RelayRegistry, a: Pick<Admission, 'orgId' | 'modelId' | 'plan' | 'delivery'>): GatewayError | undefined {
    const { maxRelaysPerOrg } = planLimits(this.config, a.plan);
    if ((registry.forOrg(a.orgId)?.size ?? 0) >= maxRelaysPerOrg) return this.orgLimitError(a.plan);
    if (registry.countForModel(a.modelId, a.delivery) >= this.modelLimit(a)) return this.modelLimitError(a);
    return undefined;
  }

  /** The model's limit for a connection of its delivery mode. */
  modelLimit(a: Pick<Admission, 'plan' | 'delivery'>): number {
    return a.delivery === 'session' ? planLimits(this.config, a.plan).maxSessionClientsPerModel : this.config.maxUpstreamSocketsPerModel;
  }

  /** The organization has as many relays as its plan allows (on this node or across the cluster). */
  orgLimitError(plan: string | null): GatewayError {
    const { maxRelaysPerOrg } = planLimits(this.config, plan);
    return new GatewayError('CONNECTION_LIMIT', `The plan allows ${maxRelaysPerOrg} concurrent relays for this organization`);
  }

  /** The model has as many OnlyFans sockets as allowed (on this node or across the cluster). */
  modelLimitError(a: Pick<Admission, 'plan' | 'delivery'>): GatewayError {
    if (a.delivery === 'session') return new GatewayError('CONNECTION_LIMIT', `The plan allows ${this.modelLimit(a)} clients attached to this model at once`);
    const perModel = this.config.maxUpstreamSocketsPerModel;
    return new GatewayError('CONNECTION_LIMIT', `This model already has ${perModel} OnlyFans sockets open, the most allowed to protect its account`);
  }

  private sweep(): void {
    const c = this.config;
    this.ipAttempts.sweep(() => c.ipConnectBurst, () => c.ipConnectPerSecond);
    this.ipFailures.sweep(() => c.ipAuthFailureBurst, () => c.ipAuthFailurePerMinute / 60);
    const limitsOf = (key: string) => planLimits(c, this.keyPlans.get(key) ?? null);
    this.keyAttempts.sweep((k) => limitsOf(k).keyConnectBurst, (k) => limitsOf(k).keyConnectPerSecond);
    for (const key of this.keyPlans.keys()) if (!this.keyAttempts.has(key)) this.keyPlans.delete(key);
  }
}

function rateLimited(message: string, retryAfterMs: number): GatewayError {
  return new GatewayError('RATE_LIMITED', message, { retryAfterMs });
}
