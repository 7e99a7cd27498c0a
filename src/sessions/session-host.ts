/**
 * Runs the sessions this node should hold (sessions-contract.md §1): for every session-mode
 * model that is connected, exactly one node of the cluster holds its lease and runs its
 * upstream socket.
 *
 * Two sockets for one model at once is a bug in every case, so the order of a handover is
 * fixed: a holder closes its socket before it releases the lease (`await stop()`, then
 * `release()`), and a taker starts only once it has acquired. A holder that cannot renew (Redis
 * away, the process paused or partitioned) aborts its session by itself when the lease's
 * `validUntil` passes, which is before Redis lets anybody else take it: every lease has its own
 * timer for that, independent of the rounds.
 *
 * Work happens in rounds, one at a time: on start, every `renewEveryMs` and on each
 * `reconcile()` (calls during a round coalesce into one next round). Renewals run on the timer
 * on their own, so a slow model list or a slow acquire never delays them.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import type { Lease, Ownership, RunningSession, SessionStarter } from './types.js';

/** A model that should have a session (connected, in session mode). */
export interface WantedSession {
  modelId: string;
  orgId: string;
}

export interface SessionHostOptions {
  ownership: Ownership;
  start: SessionStarter;
  logger: Logger;
  /** How often leases are renewed and the model list read again: a fifth of `nodeTtlMs`. */
  renewEveryMs: number;
  /** The models that should have sessions (the gateway passes the store's session-mode ones). */
  wanted: () => Promise<readonly WantedSession[]> | readonly WantedSession[];
  /**
   * Acquisitions tried per round, at most (default 256): a node that starts beside thousands of
   * models held elsewhere spreads its attempts over rounds instead of flooding Redis. Models
   * are tried in turn, so each one is tried within a few rounds.
   */
  maxAcquiresPerRound?: number;
}

/** What the host has done since it started, for metrics. */
export interface SessionHostCounters {
  /** Leases acquired (each started a session). */
  acquired: number;
  /** Sessions ended gracefully and their leases released. */
  stopped: number;
  /** Sessions aborted because their lease was lost or lapsed. */
  lost: number;
  /** Renewals or acquisitions that failed because Redis could not tell. */
  ownershipErrors: number;
  /** Starters that threw (the lease was given back). */
  startErrors: number;
}

const DEFAULT_MAX_ACQUIRES_PER_ROUND = 256;
/** Acquisitions in flight at once within a round. */
const ACQUIRE_CONCURRENCY = 16;
/** setTimeout's largest delay; a longer validity is checked again when it fires. */
const MAX_TIMER_MS = 2_147_483_647;

interface HeldSession {
  lease: Lease;
  orgId: string;
  session: RunningSession;
  /** Fires when `validUntil` passes without a successful renewal. */
  expiry: NodeJS.Timeout | undefined;
  renewing: boolean;
  /** `stop()` has been called; the lease is kept (and renewed) until it resolves. */
  stopping: Promise<void> | undefined;
}

export class SessionHost {
  private readonly opts: SessionHostOptions;
  private readonly ownership: Ownership;
  private readonly logger: Logger;
  private readonly maxAcquires: number;
  private readonly sessions = new Map<string, HeldSession>();
  private readonly counters: SessionHostCounters = { acquired: 0, stopped: 0, lost: 0, ownershipErrors: 0, startErrors: 0 };
  private timer: NodeJS.Timeout | undefined;
  /** Where the next round's acquisitions begin in the wanted list (fairness across rounds). */
  private cursor = 0;
  private pump: Promise<void> | undefined;
  private next: { promise: Promise<void>; resolve: () => void } | undefined;
  private draining = false;
  private ownershipDown = false;

  constructor(opts: SessionHostOptions) {
    if (!(opts.renewEveryMs > 0)) throw new Error(`renewEveryMs must be positive, got ${opts.renewEveryMs}`);
    this.opts = opts;
    this.ownership = opts.ownership;
    this.logger = opts.logger;
    this.maxAcquires = Math.max(1, opts.maxAcquiresPerRound ?? DEFAULT_MAX_ACQUIRES_PER_ROUND);
  }

  /**
   * Starts the rounds; resolves after the first one.
   * @example
   * const host = new SessionHost({ ownership, start, logger, renewEveryMs: ttl / 5, wanted: () => store.sessionModels() });
   * await host.start();
   */
  async start(): Promise<void> {
    if (this.timer || this.draining) return;
    this.timer = setInterval(() => {
      this.renewAll();
      void this.reconcile();
    }, this.opts.renewEveryMs);
    this.timer.unref();
    await this.reconcile();
  }

  /**
   * Reads the model list and starts or stops sessions to match; resolves when a round that
   * began after this call has finished.
   */
  reconcile(): Promise<void> {
    if (!this.next) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.next = { promise, resolve };
    }
    const { promise } = this.next;
    this.pump ??= this.drive();
    return promise;
  }

  /** Tells a model's running session that its record changed, and reconciles. */
  modelChanged(modelId: string): Promise<void> {
    const held = this.sessions.get(modelId);
    if (held && !held.stopping) {
      try {
        held.session.modelChanged?.();
      } catch (err) {
        this.logger.error({ modelId, error: (err as Error).message }, 'session failed to take a model change');
      }
    }
    return this.reconcile();
  }

  /** The models whose sessions run here (stopping ones included: their sockets may still be open). */
  held(): string[] {
    return [...this.sessions.keys()];
  }

  /** A copy of the counters. */
  stats(): SessionHostCounters {
    return { ...this.counters };
  }

  /**
   * Stops every session, each one's socket closed before its lease is released, and stops the
   * rounds. Leases are renewed until their sessions have stopped.
   */
  async stopAll(): Promise<void> {
    this.draining = true;
    await this.reconcile(); // with nothing wanted: every session is being stopped
    await Promise.allSettled([...this.sessions.values()].map((held) => held.stopping));
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async drive(): Promise<void> {
    try {
      // One round per iteration; requests made during a round coalesce into the next one, so
      // this runs at most one round more than it was asked for.
      while (this.next) {
        const { resolve } = this.next;
        this.next = undefined;
        try {
          await this.round();
        } catch (err) {
          this.logger.error({ error: (err as Error).message }, 'session round failed');
        }
        resolve();
      }
    } finally {
      this.pump = undefined;
    }
  }

  private async round(): Promise<void> {
    let wanted: Map<string, string>;
    if (this.draining) wanted = new Map(); // stopAll: nothing runs any more
    else {
      try {
        wanted = new Map((await this.opts.wanted()).map((w) => [w.modelId, w.orgId]));
      } catch (err) {
        // Not knowing which models should run is no reason to stop the running ones.
        this.logger.error({ error: (err as Error).message }, 'cannot read which models should have sessions: trying again next round');
        return;
      }
    }
    for (const held of this.sessions.values()) {
      if (!wanted.has(held.lease.modelId)) this.stop(held, this.draining ? 'node shutting down' : 'the model no longer runs in session mode');
    }
    if (!this.draining) await this.acquireSome([...wanted].filter(([modelId]) => !this.sessions.has(modelId)));
  }

  /** Tries up to `maxAcquires` of the models, starting where the last round left off. */
  private async acquireSome(candidates: [string, string][]): Promise<void> {
    if (candidates.length === 0) return;
    const count = Math.min(candidates.length, this.maxAcquires);
    const start = this.cursor % candidates.length;
    this.cursor = start + count;
    const batch = Array.from({ length: count }, (_, i) => candidates[(start + i) % candidates.length] as [string, string]);
    for (let i = 0; i < batch.length; i += ACQUIRE_CONCURRENCY) {
      await Promise.all(batch.slice(i, i + ACQUIRE_CONCURRENCY).map(([modelId, orgId]) => this.acquire(modelId, orgId)));
    }
  }

  private async acquire(modelId: string, orgId: string): Promise<void> {
    let lease: Lease | null;
    try {
      lease = await this.ownership.tryAcquire(modelId);
    } catch (err) {
      this.ownershipFailed(err, modelId);
      return;
    }
    this.ownershipAnswered();
    if (!lease) return;
    if (this.draining || performance.now() >= lease.validUntil) {
      await this.giveBack(lease);
      return;
    }
    let session: RunningSession;
    try {
      session = this.opts.start(modelId, orgId, lease);
    } catch (err) {
      this.counters.startErrors++;
      this.logger.error({ modelId, error: (err as Error).message }, 'session failed to start: lease given back');
      await this.giveBack(lease);
      return;
    }
    const held: HeldSession = { lease, orgId, session, expiry: undefined, renewing: false, stopping: undefined };
    this.sessions.set(modelId, held);
    this.counters.acquired++;
    this.armExpiry(held);
    this.logger.info({ modelId, fence: lease.token }, 'session lease acquired: session started');
  }

  private renewAll(): void {
    for (const held of this.sessions.values()) {
      if (!held.renewing) void this.renew(held);
    }
  }

  private async renew(held: HeldSession): Promise<void> {
    held.renewing = true;
    let renewed: boolean;
    try {
      renewed = await this.ownership.renew(held.lease);
    } catch (err) {
      // Unknown: the lease may still be ours. Its expiry timer aborts the session if no
      // renewal succeeds in time.
      this.ownershipFailed(err, held.lease.modelId);
      return;
    } finally {
      held.renewing = false;
    }
    this.ownershipAnswered();
    if (!renewed && this.sessions.get(held.lease.modelId) === held) this.lose(held, 'session lease lost');
  }

  private armExpiry(held: HeldSession): void {
    const remaining = held.lease.validUntil - performance.now();
    if (remaining === Number.POSITIVE_INFINITY) return; // nothing can take this lease away
    held.expiry = setTimeout(() => {
      if (this.sessions.get(held.lease.modelId) !== held) return;
      // Renewals move validUntil on; the timer checks it again rather than being re-armed by each.
      if (performance.now() >= held.lease.validUntil) this.lose(held, 'session lease not renewed in time');
      else this.armExpiry(held);
    }, Math.min(Math.max(0, remaining), MAX_TIMER_MS));
    held.expiry.unref();
  }

  /** Ends a session gracefully: socket closed first, lease released after. */
  private stop(held: HeldSession, reason: string): void {
    if (held.stopping) return;
    const { modelId } = held.lease;
    held.stopping = (async () => {
      try {
        await held.session.stop(reason);
      } catch (err) {
        this.logger.error({ modelId, error: (err as Error).message }, 'session failed to stop cleanly');
      }
      // Aborted meanwhile (the lease lapsed): another node may hold it now; nothing to release.
      if (this.sessions.get(modelId) !== held) return;
      clearTimeout(held.expiry);
      this.sessions.delete(modelId);
      this.counters.stopped++;
      await this.giveBack(held.lease);
      this.logger.info({ modelId, reason }, 'session stopped: lease released');
    })();
  }

  /** The lease is gone or lapsed: abort at once, and give it back in case Redis still has it. */
  private lose(held: HeldSession, reason: string): void {
    const { modelId } = held.lease;
    clearTimeout(held.expiry);
    this.sessions.delete(modelId);
    this.counters.lost++;
    try {
      held.session.abort(reason);
    } catch (err) {
      this.logger.error({ modelId, error: (err as Error).message }, 'session failed to abort');
    }
    this.logger.warn({ modelId, fence: held.lease.token, reason }, 'session aborted');
    void this.giveBack(held.lease);
  }

  private async giveBack(lease: Lease): Promise<void> {
    try {
      await this.ownership.release(lease);
    } catch (err) {
      // It expires by itself after the TTL.
      this.ownershipFailed(err, lease.modelId);
    }
  }

  /** Counts a failure; logs only the first of an outage, not one line per model per round. */
  private ownershipFailed(err: unknown, modelId: string): void {
    this.counters.ownershipErrors++;
    if (this.ownershipDown) return;
    this.ownershipDown = true;
    this.logger.warn({ modelId, error: (err as Error).message }, 'session ownership unavailable: sessions whose leases cannot be renewed in time will stop');
  }

  private ownershipAnswered(): void {
    if (!this.ownershipDown) return;
    this.ownershipDown = false;
    this.logger.info('session ownership available again');
  }
}
