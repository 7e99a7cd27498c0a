/**
 * Live relays and nodes across the cluster: what is open, for whom, on which node, and how
 * much it carried. Without Redis the cluster is this node alone.
 */
import { z } from 'zod';
import { CoordinationError } from '../cluster/redis-coordinator.js';
import { ApiError } from './http.js';
import { defineRoute, type Route } from './router.js';
import { closingRelaySchema, nodeSchema, relaySchema } from './schemas.js';

export const relayRoutes: Route[] = [
  defineRoute({
    method: 'GET',
    path: '/relays',
    summary:
      'List the live relays on every node, optionally for one organization or model (a node that does not answer within 1 s is named in the X-Ofgw-Missing-Nodes header)',
    query: z.object({ orgId: z.string().optional(), modelId: z.string().optional() }).strict(),
    success: { status: 200, description: 'The relays with their node and traffic counters', schema: z.array(relaySchema) },
    errors: ['INVALID_INPUT', 'CLUSTER_UNAVAILABLE'],
    async handler({ gateway, query }) {
      const { relays, missing } = await clusterCall(() => gateway.listRelays({ orgId: query.orgId, modelId: query.modelId }));
      return { status: 200, body: relays, headers: missing.length ? { 'X-Ofgw-Missing-Nodes': missing.join(',') } : undefined };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/relays/{id}',
    summary: 'Close a live relay on whichever node holds it: 1000 "closed by operator" on both legs (recorded in the audit trail)',
    success: { status: 202, description: 'Closing; the close handshake finishes shortly', schema: closingRelaySchema },
    errors: ['NOT_FOUND', 'CLUSTER_UNAVAILABLE'],
    async handler({ gateway, store, params }) {
      const id = (params.id ?? '').toLowerCase();
      const closed = await clusterCall(() => gateway.closeRelay(id));
      if (!closed) throw new ApiError('NOT_FOUND', `Relay ${params.id ?? ''} not found on any node`);
      await store.recordRelayClose({ id: closed.id, orgId: closed.orgId, modelId: closed.modelId, keyId: closed.keyId, node: closed.node });
      return { status: 202, body: { id, state: 'closing' } };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/nodes',
    summary: 'List the live gateway nodes (registered in Redis within nodeTtlMs); without Redis, this node',
    success: { status: 200, description: 'The nodes, the answering one first', schema: z.array(nodeSchema) },
    errors: ['CLUSTER_UNAVAILABLE'],
    async handler({ gateway }) {
      return { status: 200, body: await clusterCall(() => gateway.nodes()) };
    },
  }),
];

/** A cluster question Redis could not carry becomes a 503 that says so. */
export async function clusterCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof CoordinationError) {
      throw new ApiError('CLUSTER_UNAVAILABLE', `The cluster cannot be asked right now: ${(err as Error).message}`);
    }
    throw err;
  }
}
