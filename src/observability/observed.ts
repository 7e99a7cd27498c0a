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

export interface ObservedGateway {
  readonly registry: { readonly all: ReadonlySet<ObservedConnection> };
  readonly store: { latestChangeSeq(): Promise<number> };
  readonly isDraining: boolean;
  readonly joinsCluster: boolean;
  readonly clustered: boolean;
  readonly coordinationAvailable: boolean;
  sessionStats(): SessionCounts;
  eventLogSize(): Promise<{ entries: number; bytes: number } | undefined>;
}
