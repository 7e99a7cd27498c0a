/** Shapes shared by the gateway, the cluster coordinator and the management API. */
import type { NodeOverview } from '../observability/overview.js';

/** A live relay as the management API shows it; ids only, never the key. */
export interface RelayView {
  id: string;
  /** The node holding it (its cluster id; this node's own id without Redis). */
  node: string;
  orgId: string;
  keyId: string;
  modelId: string;
  since: string;
  state: 'connecting' | 'open' | 'closing';
  messagesToUpstream: number;
  messagesToClient: number;
  bytesToUpstream: number;
  bytesToClient: number;
}

export interface RelayFilter {
  orgId?: string | undefined;
  modelId?: string | undefined;
}

/** A node of the cluster as it registered itself. */
export interface ClusterNode {
  id: string;
  host: string;
  pid: number;
  /** Where it listens, as it sees it. */
  address: string;
  version: string;
  startedAt: string;
  /** Its last heartbeat, by its own clock. */
  lastSeenAt: string;
  /** Live relays at its last heartbeat. */
  relays: number;
  /** True for the node that answered. */
  self: boolean;
}

/** A relay's share of the cluster-wide limits. */
export interface HeldSlot {
  relayId: string;
  orgId: string;
  modelId: string;
}

/** What the coordinator needs from the gateway it serves. */
export interface NodeHost {
  /** What the node registers about itself, as of now. */
  describe(): Omit<ClusterNode, 'self'>;
  listRelays(filter: RelayFilter): RelayView[];
  /** Closes the relay if it is here (1000 "closed by operator"): what it was, or undefined when it is not here. */
  closeRelay(relayId: string): RelayView | undefined;
  /** Read the store's change feed now. */
  changed(): void;
  /** Every slot this node holds, to re-assert after Redis came back. */
  heldSlots(): Iterable<HeldSlot>;
  /** This node's overview samples and session models (the dashboard's overview page). */
  overview(): NodeOverview;
}
