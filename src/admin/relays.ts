/** Live relays on this node: what is open, for whom, and how much it carried. */
import { z } from 'zod';
import type { RelayPair } from '../gateway/relay-pair.js';
import { ApiError } from './http.js';
import { defineRoute, type Route } from './router.js';
import { closingRelaySchema, relaySchema } from './schemas.js';

/** A relay as answered; ids only, never the key. */
export interface RelayView {
  id: string;
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

function relayView(pair: RelayPair): RelayView | undefined {
  const a = pair.admission;
  // Not yet admitted: it belongs to no one yet and is gone or indexed within milliseconds.
  if (!a) return undefined;
  const state = pair.isOpen ? 'open' : pair.openedAt === undefined ? 'connecting' : 'closing';
  return {
    id: pair.id,
    orgId: a.orgId,
    keyId: a.key.id,
    modelId: a.modelId,
    since: new Date(pair.openedAt ?? pair.startedAt).toISOString(),
    state,
    ...pair.traffic,
  };
}

export const relayRoutes: Route[] = [
  defineRoute({
    method: 'GET',
    path: '/relays',
    summary: 'List the live relays on this node, optionally for one organization or model',
    query: z.object({ orgId: z.string().optional(), modelId: z.string().optional() }).strict(),
    success: { status: 200, description: 'The relays with their traffic counters', schema: z.array(relaySchema) },
    errors: ['INVALID_INPUT'],
    async handler({ gateway, query }) {
      const views: RelayView[] = [];
      for (const pair of gateway.registry.all) {
        const view = relayView(pair);
        if (!view) continue;
        if (query.orgId !== undefined && view.orgId !== query.orgId.toLowerCase()) continue;
        if (query.modelId !== undefined && view.modelId !== query.modelId.toLowerCase()) continue;
        views.push(view);
      }
      return { status: 200, body: views };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/relays/{id}',
    summary: 'Close a live relay: 1000 "closed by operator" on both legs',
    success: { status: 202, description: 'Closing; the close handshake finishes shortly', schema: closingRelaySchema },
    errors: ['NOT_FOUND'],
    async handler({ gateway, params }) {
      const id = (params.id ?? '').toLowerCase();
      const pair = [...gateway.registry.all].find((p) => p.id === id);
      if (!pair) throw new ApiError('NOT_FOUND', `Relay ${params.id ?? ''} not found on this node`);
      pair.closeByOperator();
      return { status: 202, body: { id: pair.id, state: 'closing' } };
    },
  }),
];
