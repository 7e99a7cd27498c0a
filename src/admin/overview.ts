/**
 * The dashboard's overview: every node's in-memory samples (src/observability/overview.ts)
 * added up into one series, with each session-mode model's state now. Without Redis the
 * cluster is this node alone.
 */
import type { z } from 'zod';
import { mergeOverviews, type NodeOverview, type OverviewSample } from '../observability/overview.js';
import type { ModelRecord } from '../store/types.js';
import { clusterCall } from './relays.js';
import { defineRoute, type Route } from './router.js';
import { overviewSchema } from './schemas.js';

type Overview = z.output<typeof overviewSchema>;

export const overviewRoutes: Route[] = [
  defineRoute({
    method: 'GET',
    path: '/overview',
    summary:
      'The last hour (360 samples) of every node added up — connections open, events logged, connection attempts by outcome, upstream failures, session reconnects, webhook deliveries — and each session-mode model\'s state now',
    success: { status: 200, description: 'The series, oldest first, and the session models', schema: overviewSchema },
    errors: ['CLUSTER_UNAVAILABLE'],
    async handler({ gateway, store }) {
      const [{ nodes, missing }, models] = await Promise.all([clusterCall(() => gateway.overviews()), store.listSessionModels()]);
      const intervalMs = nodes[0]?.intervalMs ?? 1;
      const series = mergeOverviews(nodes, intervalMs);
      const body: Overview = {
        intervalMs,
        nodes: nodes.map((n) => n.node),
        missingNodes: missing,
        series: series.map((s) => ({ ...s, at: new Date(s.at).toISOString(), eventsPerMinute: (s.events * 60_000) / intervalMs })),
        totals: totalsOf(series),
        sessionModels: models.map((m) => sessionModelView(m, nodes)),
      };
      return { status: 200, body };
    },
  }),
];

function totalsOf(series: readonly OverviewSample[]): Overview['totals'] {
  const totals: Overview['totals'] = { attempts: {}, events: 0, upstreamFailures: 0, sessionReconnects: 0, webhooks: { delivered: 0, retrying: 0, failed: 0 } };
  for (const s of series) {
    totals.events += s.events;
    totals.upstreamFailures += s.upstreamFailures;
    totals.sessionReconnects += s.sessionReconnects;
    for (const [outcome, n] of Object.entries(s.attempts)) totals.attempts[outcome] = (totals.attempts[outcome] ?? 0) + n;
    totals.webhooks.delivered += s.webhooks.delivered;
    totals.webhooks.retrying += s.webhooks.retrying;
    totals.webhooks.failed += s.webhooks.failed;
  }
  return totals;
}

/** The model with the node that holds its session (if any) and its clients on every node. */
function sessionModelView(model: ModelRecord, nodes: readonly NodeOverview[]): Overview['sessionModels'][number] {
  let holder: { node: string; upstream: 'connected' | 'reconnecting' | 'down' } | undefined;
  let clients = 0;
  for (const node of nodes) {
    for (const s of node.sessions) {
      if (s.modelId !== model.id) continue;
      clients += s.clients;
      if (s.upstream !== null) holder = { node: node.node, upstream: s.upstream };
    }
  }
  return {
    id: model.id,
    orgId: model.orgId,
    name: model.name,
    status: model.status,
    upstream: holder?.upstream ?? 'not running',
    node: holder?.node ?? null,
    clients,
  };
}
