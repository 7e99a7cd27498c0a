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

/** One series of delivery lags, in seconds (all 0 when nothing was delivered). */
export interface LagSummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/**
 * How late live session events reached the clients on this node since the previous call:
 * `upstreamRead` from the read of the event off the upstream socket (events this node read and
 * logged in its embedded log; exact), `logAppend` from the append time in the event's id (events
 * that came through the cluster log: whole milliseconds of Redis's clock) — each to the write
 * on the socket of the last live client it went to.
 */
export interface DeliveryLag {
  upstreamRead: LagSummary;
  logAppend: LagSummary;
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
  /** The delivery lag since the previous call (each call starts a new period). */
  sessionDeliveryLag(): DeliveryLag;
  eventLogSize(): Promise<{ entries: number; bytes: number } | undefined>;
}
