/**
 * When and how soon to reconnect (contract §6): exponential backoff with full jitter, reset
 * after a stable connection, never on the "do not retry" codes, and never sooner than a
 * RATE_LIMITED answer's `retryAfterMs`.
 */
import { GATEWAY_ERRORS, isGatewayErrorCode, type OfgwError } from './errors.js';

/** Reconnection settings; every field is optional. */
export interface ReconnectOptions {
  /** First delay cap, in ms; doubles each consecutive failure. Default 1000 (contract §6). */
  baseDelayMs?: number;
  /** Largest delay cap, in ms. Default 30000 (contract §6). */
  maxDelayMs?: number;
  /**
   * A relay that stayed open this long resets the backoff, in ms. Default 10000: long enough
   * that a relay failing right after its confirmation (e.g. OnlyFans dropping it) still backs
   * off, short enough that a day-long relay's restart starts again from the first delay.
   */
  stableAfterMs?: number;
  /**
   * Also retry MODEL_NOT_CONNECTED and NO_WS_CREDENTIALS (with backoff). Default false: both
   * need someone to reconnect or refresh the model, so by default they end the client with
   * that error; set true for a dashboard that should wait for the model to come back.
   */
  retryModelUnavailable?: boolean;
  /** Retries in a row (without a stable relay between them) before giving up; the last error ends the client. Default Infinity. */
  maxRetries?: number;
  /** Random source in [0, 1) for the jitter; default Math.random (tests may pass their own). */
  random?: () => number;
}

export type ResolvedReconnectOptions = Required<ReconnectOptions>;

/** Fills in the defaults and checks the values; throws a RangeError naming a bad one. */
export function resolveReconnectOptions(options: ReconnectOptions = {}): ResolvedReconnectOptions {
  const resolved: ResolvedReconnectOptions = {
    baseDelayMs: options.baseDelayMs ?? 1000,
    maxDelayMs: options.maxDelayMs ?? 30_000,
    stableAfterMs: options.stableAfterMs ?? 10_000,
    retryModelUnavailable: options.retryModelUnavailable ?? false,
    maxRetries: options.maxRetries ?? Infinity,
    random: options.random ?? Math.random,
  };
  for (const name of ['baseDelayMs', 'maxDelayMs', 'stableAfterMs'] as const) {
    const value = resolved[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`reconnect.${name} must be a finite number of milliseconds ≥ 0, got ${String(value)}`);
    }
  }
  if (resolved.maxDelayMs < resolved.baseDelayMs) {
    throw new RangeError(`reconnect.maxDelayMs (${resolved.maxDelayMs}) must not be below reconnect.baseDelayMs (${resolved.baseDelayMs})`);
  }
  if (!(resolved.maxRetries >= 0)) throw new RangeError(`reconnect.maxRetries must be ≥ 0, got ${String(resolved.maxRetries)}`);
  return resolved;
}

/**
 * Full-jitter exponential backoff: the n-th consecutive failure (from 0) waits a random time
 * in [0, min(maxDelayMs, baseDelayMs · 2ⁿ)]. Full jitter spreads many clients that lost the
 * same gateway over the whole window instead of bunching them at each step.
 */
export class Backoff {
  private failures = 0;

  constructor(private readonly options: ResolvedReconnectOptions) {}

  /** Consecutive failures since the last reset. */
  get attempt(): number {
    return this.failures;
  }

  /** The delay before the next attempt; counts one more failure. */
  next(): number {
    const cap = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** Math.min(this.failures, 52));
    this.failures++;
    return Math.floor(this.options.random() * (cap + 1));
  }

  reset(): void {
    this.failures = 0;
  }
}

/** What to do after a relay ended: stop, or try again after `delayMs`. */
export type ReconnectDecision = { retry: false } | { retry: true; delayMs: number };

/**
 * The policy table of the package README, in code. `backoff.next()` is only called when the
 * answer is a retry, so terminal errors do not count as attempts.
 */
export function decideReconnect(error: OfgwError, backoff: Backoff, options: ResolvedReconnectOptions): ReconnectDecision {
  if (!isRetryable(error, options)) return { retry: false };
  if (backoff.attempt >= options.maxRetries) return { retry: false };
  const jittered = backoff.next();
  // RATE_LIMITED: the gateway's bucket refills in retryAfterMs; coming back sooner only burns
  // another attempt, so wait at least that, and the jittered backoff when it is longer.
  if (error.code === 'RATE_LIMITED' && error.retryAfterMs !== undefined) {
    return { retry: true, delayMs: Math.max(error.retryAfterMs, jittered) };
  }
  return { retry: true, delayMs: jittered };
}

/** Whether the SDK retries after this error on its own (see the README's policy table). */
export function isRetryable(error: OfgwError, options: Pick<ResolvedReconnectOptions, 'retryModelUnavailable'>): boolean {
  const code = error.code;
  if (code === 'ABORTED' || code === 'NOT_CONNECTED' || code === 'TIMEOUT') return false;
  if (code === 'MODEL_NOT_CONNECTED' || code === 'NO_WS_CREDENTIALS') return options.retryModelUnavailable;
  if (isGatewayErrorCode(code)) return GATEWAY_ERRORS[code].retry;
  // CLOSED and CONNECT_TIMEOUT: any close without an error frame is transient from here —
  // 1012 restart, 1014/1011 failures, 1006 lost or refused, 1000/1001 ended by the server
  // (an upstream's own 1000 reaches the client unchanged), 1009/1008 after a bad message.
  return true;
}
