/**
 * Every live relay (WebSocket or server-sent events stream), indexed by the key, organization and model it was admitted with, so a
 * revocation, a subscription end or a model disconnect finds its relays without a scan.
 */
import type { TrackedConnection } from './tracked-connection.js';

type Index = Map<string, Set<TrackedConnection>>;

export class RelayRegistry {
  /** Every relay from its upgrade until both legs are closed. */
  readonly all = new Set<TrackedConnection>();
  private readonly byKey: Index = new Map();
  private readonly byOrg: Index = new Map();
  private readonly byModel: Index = new Map();

  track(pair: TrackedConnection): void {
    this.all.add(pair);
  }

  /** Indexes an admitted relay (its admission is set). */
  index(pair: TrackedConnection): void {
    const a = pair.admission;
    if (!a) return;
    add(this.byKey, a.key.id, pair);
    add(this.byOrg, a.orgId, pair);
    add(this.byModel, a.modelId, pair);
  }

  untrack(pair: TrackedConnection): void {
    this.all.delete(pair);
    this.unindex(pair);
  }

  /** Takes an admitted relay out of the indexes (a refused slot); it stays tracked. */
  unindex(pair: TrackedConnection): void {
    const a = pair.admission;
    if (!a) return;
    remove(this.byKey, a.key.id, pair);
    remove(this.byOrg, a.orgId, pair);
    remove(this.byModel, a.modelId, pair);
  }

  forKey(id: string): ReadonlySet<TrackedConnection> | undefined {
    return this.byKey.get(id);
  }

  forOrg(id: string): ReadonlySet<TrackedConnection> | undefined {
    return this.byOrg.get(id);
  }

  forModel(id: string): ReadonlySet<TrackedConnection> | undefined {
    return this.byModel.get(id);
  }
}

function add(index: Index, id: string, pair: TrackedConnection): void {
  let set = index.get(id);
  if (!set) index.set(id, (set = new Set()));
  set.add(pair);
}

function remove(index: Index, id: string, pair: TrackedConnection): void {
  const set = index.get(id);
  if (!set) return;
  set.delete(pair);
  if (set.size === 0) index.delete(id);
}
