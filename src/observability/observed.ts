/**
 * What observability reads from a gateway: declared here, so metrics and health depend on
 * neutral shapes and the diagnostics channels only, never on gateway code. The gateway
 * (src/gateway/server.ts) satisfies it structurally.
 */
import type { ObservedConnection } from '../diagnostics.js';

export interface SessionCounts {
  byState: Record<'connected' | 'reconnecting' | 'down', number>;
  clients: number;
  upstreamReconnects: number;
  eventsLogged: number;
  deliveries: number;
}

/** A session-mode model as one node sees it now. */
export interface SessionModelState {
  modelId: string;
  /** The upstream's state while this node holds the model's session; null when another node (or none) does. */
  upstream: 'connected' | 'reconnecting' | 'down' | null;
  /** Clients attached to the model on this node. */
  clients: number;
}

export interface ObservedGateway {
  readonly registry: { readonly all: ReadonlySet<ObservedConnection> };
  readonly store: { latestChangeSeq(): Promise<number> };
  readonly isDraining: boolean;
  readonly joinsCluster: boolean;
  readonly clustered: boolean;
  readonly coordinationAvailable: boolean;
  sessionStats(): SessionCounts;
  /** The session-mode models this node holds or has clients of. */
  sessionModels(): SessionModelState[];
  eventLogSize(): Promise<{ entries: number; bytes: number } | undefined>;
}
