/**
 * `GET /metrics` with `ofgw serve --workers N`: a scrape lands on one worker, which asks the
 * primary; the primary collects every worker's own registry (`getMetricsAsJSON()`, over the
 * cluster IPC channel) and answers with the sum. This module is the primary's arithmetic.
 *
 * - Counters and histograms are summed over the workers. A worker that exits (a rolling
 *   restart, a crash) takes its values with it, which a Prometheus `rate()` would read as a
 *   reset of the whole sum; so its last known values (its final ones when it drained, the
 *   last scrape's when it died) are folded into {@link RetiredTotals} and stay in the sum.
 * - Gauges are summed (relays, memory, open fds…), except where a sum means nothing:
 *   {@link AGGREGATORS} (event-loop and session delivery lag: the worst worker) and prom-client's own choices for
 *   its default metrics (`nodejs_eventloop_lag_*`, the start time…).
 * - The primary adds `ofgw_workers` (workers whose current values are in the answer),
 *   `ofgw_workers_stale` (workers that did not answer in time; their last counters are used)
 *   and `ofgw_worker_exits_total{reason}`.
 */
import { AggregatorRegistry } from 'prom-client';
import type { MetricJson, MetricsSnapshot } from './worker-protocol.js';

/** How a metric is combined across workers when a sum would mislead. */
export const AGGREGATORS: Readonly<Record<string, string>> = {
  ofgw_event_loop_lag_seconds: 'max',
  ofgw_session_delivery_lag_seconds: 'max',
  // Every worker reaches Redis or the node is degraded: the worst one.
  ofgw_cluster_coordination_up: 'min',
  // Workers run with Redis, where the log is the cluster's: every worker reports the same size.
  ofgw_event_log_size: 'max',
};

/** Metrics whose values only grow (so a sum over workers, past and present, only grows). */
function isMonotonic(metric: MetricJson): boolean {
  return metric.type === 'counter' || metric.type === 'histogram';
}

/** Only the counters and histograms of a snapshot. */
export function monotonicOnly(snapshot: MetricsSnapshot): MetricsSnapshot {
  return snapshot.filter(isMonotonic);
}

function valueKey(value: MetricJson['values'][number]): string {
  const labels = Object.keys(value.labels)
    .sort()
    .map((k) => `${k}=${String(value.labels[k])}`)
    .join(',');
  return `${value.metricName ?? ''}{${labels}}`;
}

/** The summed counters and histograms of workers that have exited. */
export class RetiredTotals {
  private readonly metrics = new Map<string, { meta: Omit<MetricJson, 'values'>; values: Map<string, MetricJson['values'][number]> }>();

  /** Adds an exited worker's last values (its gauges are ignored). */
  add(snapshot: MetricsSnapshot): void {
    for (const metric of monotonicOnly(snapshot)) {
      let acc = this.metrics.get(metric.name);
      if (!acc) {
        const { values: _values, ...meta } = metric;
        acc = { meta, values: new Map() };
        this.metrics.set(metric.name, acc);
      }
      for (const value of metric.values) {
        const key = valueKey(value);
        const held = acc.values.get(key);
        if (held) held.value += value.value;
        else acc.values.set(key, { ...value, labels: { ...value.labels } });
      }
    }
  }

  snapshot(): MetricsSnapshot {
    return [...this.metrics.values()].map(({ meta, values }) => ({ ...meta, values: [...values.values()].map((v) => ({ ...v })) }));
  }
}

export interface ClusterState {
  /** Current values of the workers that answered. */
  answered: MetricsSnapshot[];
  /** Last known values of live workers that did not answer in time (counters are kept). */
  stale: (MetricsSnapshot | undefined)[];
  retired: RetiredTotals;
  exits: { drained: number; unexpected: number };
}

/** The Prometheus text of the whole cluster. */
export async function aggregateText(state: ClusterState): Promise<string> {
  const own: MetricsSnapshot = [
    {
      name: 'ofgw_workers',
      help: 'Worker processes whose current values are in this answer',
      type: 'gauge',
      aggregator: 'sum',
      values: [{ value: state.answered.length, labels: {} }],
    },
    {
      name: 'ofgw_workers_stale',
      help: 'Live worker processes that did not answer this scrape in time (their last known counters are included)',
      type: 'gauge',
      aggregator: 'sum',
      values: [{ value: state.stale.length, labels: {} }],
    },
    {
      name: 'ofgw_worker_exits_total',
      help: 'Worker processes that exited: drained (rolling restart, shutdown) or unexpected (crash, killed)',
      type: 'counter',
      aggregator: 'sum',
      values: [
        { value: state.exits.drained, labels: { reason: 'drained' } },
        { value: state.exits.unexpected, labels: { reason: 'unexpected' } },
      ],
    },
  ];
  const parts: MetricsSnapshot[] = [
    ...state.answered,
    ...state.stale.filter((s): s is MetricsSnapshot => s !== undefined).map(monotonicOnly),
    state.retired.snapshot(),
    own,
  ].map((snapshot) => snapshot.map((m) => (AGGREGATORS[m.name] ? { ...m, aggregator: AGGREGATORS[m.name] as string } : m)));
  return AggregatorRegistry.aggregate(parts).metrics();
}
