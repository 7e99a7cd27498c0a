/**
 * Session ownership on a single node: nothing else can hold a lease, so a lease is an entry in
 * a map and never expires on its own. The fencing tokens still matter, because the embedded
 * event log outlives the process: it keeps the highest token it saw and refuses lower ones, so
 * tokens must also grow across restarts. They follow the wall clock in microseconds and grow by
 * at least 1 per grant, so a restarted process starts above every token granted before it as
 * long as the previous one granted fewer than one per microsecond on average (a grant is a
 * session start, with an upstream handshake behind it: far fewer). Milliseconds would not do:
 * a node that starts a thousand sessions in its first 100 ms and is restarted at once would
 * hand out tokens the log refuses.
 */
import { performance } from 'node:perf_hooks';
import type { Lease, Ownership } from './types.js';

/** Microseconds since the epoch: 1.8e15 in 2027, exact as a number until the year 2255. */
export function tokenClock(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

export class MemoryOwnership implements Ownership {
  readonly nodeId: string;
  /** Model id → the token of the lease held for it. */
  private readonly leases = new Map<string, number>();
  private lastToken: number;
  private closed = false;

  /**
   * @example new MemoryOwnership('node-1')
   */
  constructor(nodeId: string) {
    this.nodeId = nodeId;
    this.lastToken = tokenClock() - 1;
  }

  async tryAcquire(modelId: string): Promise<Lease | null> {
    this.checkOpen();
    if (this.leases.has(modelId)) return null;
    const token = Math.max(tokenClock(), this.lastToken + 1);
    this.lastToken = token;
    this.leases.set(modelId, token);
    // Nothing in one process can take a lease away: it is valid until released.
    return { modelId, token, validUntil: Number.POSITIVE_INFINITY };
  }

  async renew(lease: Lease): Promise<boolean> {
    this.checkOpen();
    return this.leases.get(lease.modelId) === lease.token;
  }

  async release(lease: Lease): Promise<void> {
    if (this.leases.get(lease.modelId) === lease.token) this.leases.delete(lease.modelId);
  }

  async holder(modelId: string): Promise<string | null> {
    return this.leases.has(modelId) ? this.nodeId : null;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.leases.clear();
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('session ownership is closed');
  }
}
