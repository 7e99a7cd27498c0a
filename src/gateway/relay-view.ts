/** A relay as the management API and the cluster view show it. */
import type { RelayView } from '../cluster/types.js';
import type { TrackedConnection } from './tracked-connection.js';

/**
 * The connection's views: one per model it serves (a multi-model socket shows once per model,
 * all with the socket's id, so a filter by model finds it and closing any closes the socket);
 * none before it is admitted (it belongs to no one yet).
 */
export function relayViews(pair: TrackedConnection, node: string): RelayView[] {
  const state = pair.isOpen ? 'open' : pair.openedAt === undefined ? 'connecting' : 'closing';
  const views: RelayView[] = [];
  for (const member of pair.memberships()) {
    const a = member.admission;
    if (!a) continue;
    views.push({
      id: pair.id,
      node,
      orgId: a.orgId,
      keyId: a.key.id,
      modelId: a.modelId,
      since: new Date(pair.openedAt ?? pair.startedAt).toISOString(),
      state,
      ...pair.traffic,
    });
  }
  return views;
}
