/**
 * One timer pings every open relay's two legs (ws README pattern): cheaper than a timer per
 * socket, and a leg that missed a whole period is declared dead by `ClientConnection.heartbeat` (an SSE stream keeps its own comment heartbeat).
 */
import type { RelayRegistry } from './relay-registry.js';

export function startHeartbeat(registry: RelayRegistry, intervalMs: number): () => void {
  const timer = setInterval(() => {
    for (const pair of registry.all) pair.heartbeat();
  }, intervalMs);
  return () => clearInterval(timer);
}
