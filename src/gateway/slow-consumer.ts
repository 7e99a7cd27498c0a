/**
 * A client's send buffer against the water marks (sessions-contract.md §3): past
 * `highWaterBytes` it is behind and gets no entries; staying behind for `slowConsumerTimeoutMs`
 * closes it with SLOW_CONSUMER. Shared by the relay link (which pauses its upstream meanwhile)
 * and the single- and multi-model session links (which stop giving entries).
 */
import { GatewayError } from '../errors.js';
import type { ClientConnection, ConnectionSettings } from './client-connection.js';

export class SlowConsumerWatch {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly conn: ClientConnection,
    private readonly limits: ConnectionSettings,
  ) {}

  /** True while the buffer is past the high-water mark; starts the verdict's clock. */
  behind(): boolean {
    const behind = this.conn.client.bufferedAmount > this.limits.highWaterBytes;
    if (behind && this.timer === undefined && !this.stopped) this.timer = setTimeout(slowConsumerTimeout, this.limits.slowConsumerTimeoutMs, this.conn);
    return behind;
  }

  /** True once the buffer is below the low-water mark: the clock stops, entries may flow again. */
  drained(): boolean {
    if (this.stopped || this.conn.client.bufferedAmount >= this.limits.lowWaterBytes) return false;
    clearTimeout(this.timer);
    this.timer = undefined;
    return true;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}

function slowConsumerTimeout(conn: ClientConnection): void {
  conn.fail(new GatewayError('SLOW_CONSUMER', 'The client did not read its events in time'));
}
