/**
 * One worker of `ofgw serve --workers N`: forked by the primary (./workers.ts) with
 * node:cluster, it runs a whole gateway (its own store connection, relays, change feed and,
 * inside the Gateway, its Redis coordination) on the port the workers share. Being its own
 * process, it has its own file-descriptor budget (RLIMIT_NOFILE), logged at start.
 *
 * It takes its configuration from the primary (`start`), so every worker of one primary
 * runs the same settings, including after a rolling restart. It drains with 1012 on the
 * primary's `drain` and on SIGTERM sent to it directly (the primary then replaces it).
 * SIGINT and SIGHUP are the primary's: a terminal's Ctrl-C or hang-up reaches the whole
 * process group, and the primary decides.
 */
import cluster from 'node:cluster';
import { ConfigError, type GatewayConfig } from '../config.js';
import type { Gateway } from '../gateway/server.js';
import { createLogger, type Logger } from '../log.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { Store } from '../store/types.js';
import { buildGateway, descriptorBudget, listenGateway, openServeStore } from './gateway-process.js';
import { isOfgwMessage, type FromWorker, type MetricsSnapshot, type ToWorker } from './worker-protocol.js';

/** The primary sends `start` right after our `ready`; this only catches a primary that never does. */
const START_MESSAGE_TIMEOUT_MS = 30_000;
/** A scrape waits this long for the primary's aggregate (which waits 2 s for each worker). */
const AGGREGATE_TIMEOUT_MS = 5_000;
/** Beyond shutdownTimeoutMs: closing Redis and the store, and sending the last metrics. */
const EXIT_MARGIN_MS = 3_000;

if (!cluster.isWorker || !process.send) {
  process.stderr.write('ofgw: this file runs only as a worker of `ofgw serve --workers N`\n');
  process.exit(2);
}

type State = 'waiting' | 'starting' | 'listening' | 'stopping';
let state: State = 'waiting';
let drainRequested: string | undefined;
let config: GatewayConfig | undefined;
let logger: Logger | undefined;
let store: Store | undefined;
let gateway: Gateway | undefined;
let metrics: GatewayMetrics | undefined;
let nextAggregateId = 1;
const aggregates = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();

function send(message: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

process.on('message', (message: unknown) => {
  if (!isOfgwMessage<ToWorker>(message)) return;
  switch (message.ofgw) {
    case 'start':
      void start(message.slot, message.config);
      break;
    case 'drain':
      void stop('asked by the primary');
      break;
    case 'aggregate': {
      const pending = aggregates.get(message.id);
      if (!pending) break;
      aggregates.delete(message.id);
      clearTimeout(pending.timer);
      if (message.text !== undefined) pending.resolve(message.text);
      else pending.reject(new Error(message.error ?? 'the primary sent no metrics'));
      break;
    }
    case 'snapshot-request':
      void answerSnapshot(message.id);
      break;
  }
});
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);
// When the primary is gone (the IPC channel closes), node:cluster itself exits the worker at
// once: a primary that died has no port left to hand connections from anyway.

const startTimer = setTimeout(() => {
  process.stderr.write(`ofgw worker ${process.pid}: no start message from the primary within ${START_MESSAGE_TIMEOUT_MS} ms\n`);
  process.exit(1);
}, START_MESSAGE_TIMEOUT_MS);
void send({ ofgw: 'ready' });

async function start(slot: number, cfg: GatewayConfig): Promise<void> {
  clearTimeout(startTimer);
  if (state !== 'waiting') return;
  state = 'starting';
  config = cfg;
  const log = createLogger(cfg.logLevel).child({ role: 'worker', worker: slot, pid: process.pid });
  logger = log;
  try {
    store = await openServeStore(cfg, log);
    const built = buildGateway(cfg, store, log, { exposition: requestAggregate });
    gateway = built.gateway;
    metrics = built.metrics();
    const address = await listenGateway(gateway, cfg);
    const budget = descriptorBudget();
    log.info({ host: address.address, port: address.port, ...budget }, 'worker listening');
    state = 'listening';
    await send({ ofgw: 'listening', address: address.address, port: address.port, fdLimit: budget.fdLimit === 'unknown' ? undefined : budget.fdLimit });
  } catch (err) {
    log.error({ error: errorText(err) }, 'worker could not start');
    await send({ ofgw: 'failed', message: errorText(err), config: err instanceof ConfigError });
    // Bounded: a gateway that never listened has no relays to wait for.
    await gateway?.close().catch(() => undefined);
    metrics?.close();
    await store?.close().catch(() => undefined);
    process.exit(1);
  }
  if (drainRequested) await stop(drainRequested);
}

async function stop(reason: string): Promise<void> {
  if (state === 'waiting') process.exit(0);
  if (state === 'starting') {
    drainRequested = reason;
    return;
  }
  if (state === 'stopping') return;
  state = 'stopping';
  const log = logger as Logger;
  log.info({ reason }, 'worker draining');
  const deadline = setTimeout(
    () => {
      log.error('worker drain deadline passed: exiting');
      process.exit(1);
    },
    (config as GatewayConfig).shutdownTimeoutMs + EXIT_MARGIN_MS,
  );
  deadline.unref();
  let last: MetricsSnapshot | undefined;
  try {
    await (gateway as Gateway).close();
    last = metrics ? ((await metrics.registry.getMetricsAsJSON()) as unknown as MetricsSnapshot) : undefined;
    metrics?.close();
    await store?.close();
  } catch (err) {
    log.error({ error: errorText(err) }, 'worker drain failed: exiting');
    process.exit(1);
  }
  for (const pending of aggregates.values()) {
    clearTimeout(pending.timer);
    pending.reject(new Error('worker stopping'));
  }
  log.info('worker stopped');
  await send({ ofgw: 'stopped', metrics: last });
  process.exit(0);
}

/** `GET /metrics` on this worker: the primary's sum over every worker. */
function requestAggregate(): Promise<string> {
  if (!process.connected) return Promise.reject(new Error('the primary process is gone'));
  const id = nextAggregateId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      aggregates.delete(id);
      reject(new Error(`the primary did not answer within ${AGGREGATE_TIMEOUT_MS} ms`));
    }, AGGREGATE_TIMEOUT_MS);
    aggregates.set(id, { resolve, reject, timer });
    void send({ ofgw: 'aggregate-request', id });
  });
}

async function answerSnapshot(id: number): Promise<void> {
  if (!metrics) return send({ ofgw: 'snapshot', id, metrics: undefined });
  try {
    const snapshot = (await metrics.registry.getMetricsAsJSON()) as unknown as MetricsSnapshot;
    await send({ ofgw: 'snapshot', id, metrics: snapshot });
  } catch (err) {
    await send({ ofgw: 'snapshot', id, metrics: undefined, error: errorText(err) });
  }
}
