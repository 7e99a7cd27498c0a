/** A relay as the management API and the cluster view show it. */
import type { RelayView } from '../cluster/types.js';
import type { TrackedConnection } from './tracked-connection.js';

/** The relay's view, or undefined before it is admitted (it belongs to no one yet). */
export function relayView(pair: TrackedConnection, node: string): RelayView | undefined {
  const a = pair.admission;
  if (!a) return undefined;
  const state = pair.isOpen ? 'open' : pair.openedAt === undefined ? 'connecting' : 'closing';
  return {
    id: pair.id,
    node,
    orgId: a.orgId,
    keyId: a.key.id,
    modelId: a.modelId,
    since: new Date(pair.openedAt ?? pair.startedAt).toISOString(),
    state,
    ...pair.traffic,
  };
}
