/**
 * Prometheus metrics for one gateway, served at `GET /metrics` from a dedicated prom-client
 * registry (never the global one: tests and several gateways in one process would collide
 * on metric names).
 *
 * Nothing here runs per message. Relays already keep `pair.traffic` counters for their
 * `relay closed` log line; message and byte totals are read from those at scrape time (live
 * relays) plus totals folded in once per relay when it finishes. Everything else is observed
 * once per relay, from the `ofgw:relay:opened` and `ofgw:relay:finished` diagnostics
 * channels, so the relay hot path is unchanged whether or not anyone scrapes.
 *
 * No label carries a key, organization or model id: every label has a fixed, small set of
 * values (outcome codes, directions, close codes folded to `other`, relay states).
 */
import diagnostics from 'node:diagnostics_channel';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { HttpRoute } from '../http-route.js';
import type { ObservedGateway } from './observed.js';
import { relayFinished, relayOpened, type ObservedConnection, type RelayTraffic } from '../diagnostics.js';
import { startEventLoopLag } from './event-loop.js';
import { closeCodeLabel, outcomeLabel } from './labels.js';
import { sendText } from './respond.js';

/** What {@link createMetrics} returns: the route to pass to the gateway, and its teardown. */
export interface GatewayMetrics {
  /** Answers `GET`/`HEAD /metrics` (405 for other methods); leaves every other path alone. */
  route: HttpRoute;
  /** The dedicated registry behind the route, for tests or an extra exporter. */
  registry: Registry;
  /** Unsubscribes from the relay channels and stops the event-loop monitor. Idempotent. */
  close(): void;
}

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /**
   * Where `GET /metrics` gets its text instead of this gateway's own registry. A worker of
   * `ofgw serve --workers N` passes a function that asks the primary for the aggregate over
   * every worker (src/cli/workers.ts), since a scrape lands on one worker only; the registry
   * itself still holds this worker's own values, which the primary collects.
   */
  exposition?: () => Promise<string>;
}

/** Seconds; relays confirm in milliseconds locally and in up to the connect timeouts upstream. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Creates the metrics of `gateway` and subscribes to the relay channels. Call it from the
 * gateway's `routes` factory and call `close()` after `gateway.close()`:
 *
 *     let metrics: GatewayMetrics | undefined;
 *     const gateway = new Gateway({ config, store, logger, routes: (gw) => {
 *       metrics = createMetrics(gw);
 *       return [metrics.route, createHealthRoutes(gw)];
 *     } });
 *
 * The channels are process-wide: with two gateways in one process, the per-relay counters
 * (attempts, latencies, close codes, finished traffic) count both; the active-relay gauge
 * and live traffic read this gateway's own registry.
 */
export function createMetrics(gateway: ObservedGateway, options: MetricsOptions = {}): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const finished: RelayTraffic = { messagesToUpstream: 0, bytesToUpstream: 0, messagesToClient: 0, bytesToClient: 0 };

  new Gauge({
    name: 'ofgw_relays_active',
    help: 'Relays tracked by the gateway: open (confirmed), connecting (not confirmed yet: checks, upstream connect, or a refusal being sent), closing (was open)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const count = { open: 0, connecting: 0, closing: 0 };
      for (const pair of gateway.registry.all) count[stateOf(pair)]++;
      for (const [state, n] of Object.entries(count)) this.set({ state }, n);
    },
  });

  // Registered only with redis set: an unlabelled gauge is exposed as 0 until set, which on a
  // single node would read as "Redis lost" to every alert on it.
  if (gateway.joinsCluster) {
    new Gauge({
      name: 'ofgw_cluster_coordination_up',
      help: 'With redis set: 1 while the node reaches Redis, 0 while it does not (new relays are refused with 1011 meanwhile). Absent on a single node.',
      registers: [registry],
      collect() {
        this.set(gateway.clustered && gateway.coordinationAvailable ? 1 : 0);
      },
    });
  }

  // Counters derived at scrape time: the finished totals plus what live relays have moved so
  // far. A relay leaves the live set and enters the finished totals in the same tick, so the
  // sum never goes backwards.
  const liveTraffic = (): RelayTraffic => {
    const sum = { ...finished };
    for (const pair of gateway.registry.all) addTraffic(sum, pair.traffic);
    return sum;
  };
  new Counter({
    name: 'ofgw_relay_messages_total',
    help: 'Messages relayed, by direction',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      const t = liveTraffic();
      this.reset();
      this.inc({ direction: 'client_to_upstream' }, t.messagesToUpstream);
      this.inc({ direction: 'upstream_to_client' }, t.messagesToClient);
    },
  });
  new Counter({
    name: 'ofgw_relay_bytes_total',
    help: 'Message payload bytes relayed, by direction',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      const t = liveTraffic();
      this.reset();
      this.inc({ direction: 'client_to_upstream' }, t.bytesToUpstream);
      this.inc({ direction: 'upstream_to_client' }, t.bytesToClient);
    },
  });

  // Session mode (sessions-contract.md): read from the node's sessions at scrape time.
  new Gauge({
    name: 'ofgw_sessions',
    help: 'Model sessions held by this node, by upstream state (connected, reconnecting, down)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      for (const [state, n] of Object.entries(gateway.sessionStats().byState)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'ofgw_session_clients',
    help: 'Clients attached on this node to session-mode models',
    registers: [registry],
    collect() {
      this.set(gateway.sessionStats().clients);
    },
  });
  new Counter({
    name: 'ofgw_session_upstream_reconnects_total',
    help: 'Times the sessions held by this node reopened their OnlyFans socket',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(gateway.sessionStats().upstreamReconnects);
    },
  });
  new Counter({
    name: 'ofgw_event_log_entries_total',
    help: 'Upstream events appended to the event log by the sessions this node held',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(gateway.sessionStats().eventsLogged);
    },
  });
  new Gauge({
    name: 'ofgw_session_delivery_lag_seconds',
    help:
      'How late live session events reached this node\'s clients since the previous scrape (median, 99th percentile, maximum): ' +
      'timed_from="upstream_read" from the read off the OnlyFans socket (events this node logged in its embedded log), ' +
      'timed_from="log_append" from the append time in the event id (events that came through the cluster log; whole ms of Redis\'s clock); ' +
      'to the write to the last live client',
    labelNames: ['timed_from', 'stat'],
    registers: [registry],
    collect() {
      const lag = gateway.sessionDeliveryLag();
      for (const [timedFrom, s] of [['upstream_read', lag.upstreamRead], ['log_append', lag.logAppend]] as const) {
        this.set({ timed_from: timedFrom, stat: 'p50' }, s.p50);
        this.set({ timed_from: timedFrom, stat: 'p99' }, s.p99);
        this.set({ timed_from: timedFrom, stat: 'max' }, s.max);
      }
    },
  });
  new Counter({
    name: 'ofgw_session_deliveries_total',
    help: 'Logged entries delivered to session clients on this node (live and replayed)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(gateway.sessionStats().deliveries);
    },
  });
  new Gauge({
    name: 'ofgw_event_log_size',
    help: 'Entries kept in the event log over all models (cluster-wide with Redis), and their approximate bytes',
    labelNames: ['unit'],
    registers: [registry],
    async collect() {
      const size = await gateway.eventLogSize().catch(() => undefined);
      if (!size) return;
      this.set({ unit: 'entries' }, size.entries);
      this.set({ unit: 'bytes' }, size.bytes);
    },
  });

  const attempts = new Counter({
    name: 'ofgw_relay_attempts_total',
    help: 'Finished connection attempts by outcome: ok or the catalog/close outcome code',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const closeCodes = new Counter({
    name: 'ofgw_client_close_codes_total',
    help: 'Close code on the client leg of finished relays (well-known and catalog codes; anything else is "other")',
    labelNames: ['code'],
    registers: [registry],
  });
  const slowConsumers = new Counter({
    name: 'ofgw_slow_consumer_closes_total',
    help: 'Relays closed with SLOW_CONSUMER because the client read too slowly',
    registers: [registry],
  });
  const confirmSeconds = new Histogram({
    name: 'ofgw_relay_confirm_seconds',
    help: 'Time from the client upgrade to the confirmation frame',
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const upstreamConnectSeconds = new Histogram({
    name: 'ofgw_upstream_connect_seconds',
    help: 'Time to open and authenticate the upstream socket, for relays that opened',
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });

  const stopLag = startEventLoopLag(registry);

  // The channels are process-wide: count only this gateway's relays.
  const ours = (pair: ObservedConnection): boolean => gateway.registry.all.has(pair);
  const onOpened = (message: unknown): void => {
    const pair = message as ObservedConnection;
    if (pair.openedAt === undefined || !ours(pair)) return;
    confirmSeconds.observe((pair.openedAt - pair.startedAt) / 1000);
    if (pair.upstreamStartedAt !== undefined) upstreamConnectSeconds.observe((pair.openedAt - pair.upstreamStartedAt) / 1000);
  };
  const onFinished = (message: unknown): void => {
    const pair = message as ObservedConnection;
    if (!ours(pair)) return;
    addTraffic(finished, pair.traffic);
    attempts.inc({ outcome: outcomeLabel(pair.outcome) });
    if (pair.clientCloseCode !== undefined) closeCodes.inc({ code: closeCodeLabel(pair.clientCloseCode) });
    if (pair.outcome === 'SLOW_CONSUMER') slowConsumers.inc();
  };
  diagnostics.subscribe(relayOpened.name, onOpened);
  diagnostics.subscribe(relayFinished.name, onFinished);

  let closed = false;
  return {
    registry,
    route: (req, res) => {
      if ((req.url ?? '/').split('?', 1)[0] !== '/metrics') return false;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendText(res, 405, 'text/plain; charset=utf-8', 'Method Not Allowed\n', req.method, { allow: 'GET, HEAD' });
        return true;
      }
      (options.exposition ?? (() => registry.metrics()))().then(
        (text) => sendText(res, 200, registry.contentType, text, req.method),
        (err: unknown) => sendText(res, 500, 'text/plain; charset=utf-8', `collecting metrics failed: ${errorText(err)}\n`, req.method),
      );
      return true;
    },
    close() {
      if (closed) return;
      closed = true;
      diagnostics.unsubscribe(relayOpened.name, onOpened);
      diagnostics.unsubscribe(relayFinished.name, onFinished);
      stopLag();
    },
  };
}

/** A partition of the tracked relays using only the pair's public fields. */
function stateOf(pair: ObservedConnection): 'open' | 'connecting' | 'closing' {
  if (pair.isOpen) return 'open';
  return pair.openedAt === undefined ? 'connecting' : 'closing';
}

function addTraffic(into: RelayTraffic, t: RelayTraffic): void {
  into.messagesToUpstream += t.messagesToUpstream;
  into.bytesToUpstream += t.bytesToUpstream;
  into.messagesToClient += t.messagesToClient;
  into.bytesToClient += t.bytesToClient;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
