/**
 * What the gateway needs of a live customer connection, whatever carries it: a WebSocket
 * ({@link ClientConnection}) or a server-sent events stream ({@link SseStream}). The registry
 * indexes it, the change watcher ends it on revocations, the heartbeat sweeps it, the
 * management API lists and closes it, shutdown drains it and metrics observe it.
 */
import type { ObservedConnection } from '../diagnostics.js';
import type { GatewayError } from '../errors.js';
import type { Admission } from './admission.js';
import type { ModelMembership } from './relay-registry.js';

export interface TrackedConnection extends ObservedConnection {
  readonly id: string;
  /** Set once checks 1–6 passed. */
  readonly admission: Admission | null;
  /** The store change sequence already applied when the checks began. */
  readonly changeSeq: number;
  readonly upstreamCloseCode: number | undefined;
  /** Ends the connection with a catalog error (revocation, subscription end, model gone…). */
  fail(error: GatewayError): void;
  /** The key's end moved (a rotation's grace period): close at the new end. */
  keyExpiryChanged(expiresAt: string | null): void;
  /** The model switched between relay and session mode: the client comes back in the new one. */
  deliveryChanged(delivery: string): void;
  /** One round of the gateway's heartbeat sweep. */
  heartbeat(): void;
  /** Graceful shutdown: end, telling the client to reconnect. */
  shutdown(): void;
  /** An operator closed it through the management API. */
  closeByOperator(): void;
  /** Last resort when a graceful end does not finish in time. */
  destroy(): void;
  /** The models it serves, as the registry indexes them (a single-model connection is its own). */
  memberships(): Iterable<ModelMembership>;
  /** Fields for the relay-opened and relay-closed log lines. */
  logFields(): Record<string, unknown>;
}
