/**
 * The messages between the primary of `ofgw serve --workers N` (./workers.ts) and its
 * workers (./worker.ts), over node:cluster's IPC channel. Every message carries `ofgw`, so
 * node's and prom-client's own messages on the same channel are told apart.
 */
import type { GatewayConfig } from '../config.js';
import type { FdLimit } from './fd-limit.js';

/** One metric as `registry.getMetricsAsJSON()` gives it at run time (plain data). */
export interface MetricJson {
  name: string;
  help: string;
  /** 'counter', 'gauge', 'histogram' or 'summary' (prom-client's typings say an enum). */
  type: string;
  aggregator: string;
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

/** One registry's metrics. */
export type MetricsSnapshot = MetricJson[];

/** Worker → primary. */
export type FromWorker =
  /** Its message listener is in place: send `start`. */
  | { ofgw: 'ready' }
  /** The gateway listens. */
  | { ofgw: 'listening'; address: string; port: number; fdLimit: FdLimit | undefined }
  /** The gateway could not start; the worker exits after this. `config`: a ConfigError. */
  | { ofgw: 'failed'; message: string; config: boolean }
  /** Drained and closed; its last metrics, so the cluster's counters do not go back. */
  | { ofgw: 'stopped'; metrics: MetricsSnapshot | undefined }
  /** A scrape reached this worker: the aggregate, please. */
  | { ofgw: 'aggregate-request'; id: number }
  /** The answer to `snapshot-request`. */
  | { ofgw: 'snapshot'; id: number; metrics: MetricsSnapshot | undefined; error?: string };

/** Primary → worker. */
export type ToWorker =
  /** Run a gateway with this configuration; `slot` numbers the worker in logs (1..N). */
  | { ofgw: 'start'; slot: number; config: GatewayConfig }
  /** Close every relay with 1012, close the store and exit 0. */
  | { ofgw: 'drain' }
  /** The answer to `aggregate-request`. */
  | { ofgw: 'aggregate'; id: number; text?: string; error?: string }
  /** Send this worker's own metrics. */
  | { ofgw: 'snapshot-request'; id: number };

/** True for a message of this protocol (and not one of node's or prom-client's). */
export function isOfgwMessage<T extends { ofgw: string }>(message: unknown): message is T {
  return typeof message === 'object' && message !== null && typeof (message as { ofgw?: unknown }).ofgw === 'string';
}
