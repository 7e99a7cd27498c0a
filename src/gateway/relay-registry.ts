/**
 * Every live connection (WebSocket or server-sent events stream), indexed by the key, organization and model it was admitted with, so a
 * revocation, a subscription end or a model disconnect finds its relays without a scan.
 *
 * The indexes hold memberships — one per model a connection serves. A single-model connection
 * is its own membership; a multi-model socket (`/api/ws`) has one per admitted model, so it is
 * found under each of its models, counts once per model against the organization's and each
 * model's limits, and a model change reaches only that model's membership.
 */
import type { GatewayError } from '../errors.js';
import type { Admission } from './admission.js';
import type { TrackedConnection } from './tracked-connection.js';

/** One model served by a connection, as the indexes and the change feed see it. */
export interface ModelMembership {
  /** The admission for this model (set once checks 1–6 passed for it). */
  readonly admission: Admission | null;
  /** The socket serving it. */
  readonly connection: TrackedConnection;
  /** Its cluster-wide slot's id, unique per membership. */
  readonly slotId: string;
  /** A change ends it: the key or subscription end the socket, a model change only this model. */
  fail(error: GatewayError): void;
  /** The model switched between relay and session mode. */
  deliveryChanged(delivery: string): void;
  /** The key's end moved (a rotation's grace period). */
  keyExpiryChanged(expiresAt: string | null): void;
}

type Index = Map<string, Set<ModelMembership>>;

export class RelayRegistry {
  /** Every relay from its upgrade until both legs are closed. */
  readonly all = new Set<TrackedConnection>();
  private readonly byKey: Index = new Map();
  private readonly byOrg: Index = new Map();
  private readonly byModel: Index = new Map();
  /** Indexed memberships per model and delivery mode, so the per-model limits count in O(1). */
  private readonly modelCounts = new Map<string, { relay: number; session: number }>();

  track(pair: TrackedConnection): void {
    this.all.add(pair);
  }

  /** Indexes an admitted membership (its admission is set). */
  index(member: ModelMembership): void {
    const a = member.admission;
    if (!a) return;
    add(this.byKey, a.key.id, member);
    add(this.byOrg, a.orgId, member);
    if (add(this.byModel, a.modelId, member)) {
      let counts = this.modelCounts.get(a.modelId);
      if (!counts) this.modelCounts.set(a.modelId, (counts = { relay: 0, session: 0 }));
      counts[a.delivery]++;
    }
  }

  /** Forgets a finished connection and every membership it still has. */
  untrack(pair: TrackedConnection): void {
    this.all.delete(pair);
    for (const member of pair.memberships()) this.unindex(member);
  }

  /** Takes a membership out of the indexes (a refused slot, a model that left); the socket stays tracked. */
  unindex(member: ModelMembership): void {
    const a = member.admission;
    if (!a) return;
    remove(this.byKey, a.key.id, member);
    remove(this.byOrg, a.orgId, member);
    if (remove(this.byModel, a.modelId, member)) {
      const counts = this.modelCounts.get(a.modelId) as { relay: number; session: number };
      counts[a.delivery]--;
      if (counts.relay === 0 && counts.session === 0) this.modelCounts.delete(a.modelId);
    }
  }

  forKey(id: string): ReadonlySet<ModelMembership> | undefined {
    return this.byKey.get(id);
  }

  forOrg(id: string): ReadonlySet<ModelMembership> | undefined {
    return this.byOrg.get(id);
  }

  forModel(id: string): ReadonlySet<ModelMembership> | undefined {
    return this.byModel.get(id);
  }

  /** How many indexed memberships of the model were admitted in `delivery` mode. */
  countForModel(id: string, delivery: Admission['delivery']): number {
    return this.modelCounts.get(id)?.[delivery] ?? 0;
  }
}

/** Adds the member; false when it was indexed there already. */
function add(index: Index, id: string, member: ModelMembership): boolean {
  let set = index.get(id);
  if (!set) index.set(id, (set = new Set()));
  const before = set.size;
  set.add(member);
  return set.size !== before;
}

/** Removes the member; false when it was not indexed there. */
function remove(index: Index, id: string, member: ModelMembership): boolean {
  const set = index.get(id);
  if (!set) return false;
  const removed = set.delete(member);
  if (set.size === 0) index.delete(id);
  return removed;
}
