/**
 * Records what an SDK client emits, so a test awaits an event instead of sleeping.
 */
import type { CloseInfo, Confirmation, EnvelopeEvent, GapInfo, OfgwClient, OfgwError, ReconnectingInfo, RelayedMessage, UpstreamStatus } from '../../packages/client/src/node.js';
import { waitFor } from '../helpers.js';

export type Recorded =
  | { type: 'open'; reconnected: boolean; confirmation: Confirmation }
  | { type: 'message'; message: RelayedMessage }
  | { type: 'event'; event: EnvelopeEvent }
  | { type: 'status'; status: UpstreamStatus }
  | { type: 'gap'; gap: GapInfo }
  | { type: 'error'; error: OfgwError }
  | { type: 'close'; info: CloseInfo }
  | { type: 'reconnecting'; info: ReconnectingInfo };

export class Recorder {
  readonly events: Recorded[] = [];
  private wakers: (() => void)[] = [];

  constructor(client: OfgwClient) {
    client.on('open', ({ reconnected, confirmation }) => this.add({ type: 'open', reconnected, confirmation }));
    client.on('message', (message) => this.add({ type: 'message', message }));
    client.on('event', (event) => this.add({ type: 'event', event }));
    client.on('status', (status) => this.add({ type: 'status', status }));
    client.on('gap', (gap) => this.add({ type: 'gap', gap }));
    client.on('error', (error) => this.add({ type: 'error', error }));
    client.on('close', (info) => this.add({ type: 'close', info }));
    client.on('reconnecting', (info) => this.add({ type: 'reconnecting', info }));
  }

  of<T extends Recorded['type']>(type: T): Extract<Recorded, { type: T }>[] {
    return this.events.filter((e): e is Extract<Recorded, { type: T }> => e.type === type);
  }

  /** Messages whose frame has this top-level key. */
  framesWith(key: string): Record<string, unknown>[] {
    return this.of('message').flatMap((e) => (e.message.frame && key in e.message.frame ? [e.message.frame] : []));
  }

  /** Waits until `condition` holds, re-checked on every recorded event. */
  until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    return waitFor(condition, timeoutMs, what, (wake) => this.wakers.push(wake));
  }

  private add(event: Recorded): void {
    this.events.push(event);
    const wakers = this.wakers;
    this.wakers = [];
    for (const wake of wakers) wake();
  }
}
