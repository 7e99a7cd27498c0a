/**
 * A gateway wired the way `ofgw serve` should wire it: metrics and health routes in front of
 * the relay. Mirrors test/helpers.ts's startStack (real store, simulator and gateway on
 * 127.0.0.1), which takes no routes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { Gateway } from '../../src/gateway/server.js';
import { createLogger } from '../../src/log.js';
import { createHealthRoutes } from '../../src/observability/health.js';
import { createMetrics, type GatewayMetrics } from '../../src/observability/metrics.js';
import { startSimulator, type OnlyFansSimulator, type SimulatorOptions } from '../../src/sandbox/index.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { LogCapture, MODEL_USER_ID } from '../helpers.js';

const GENEROUS_LIMITS = {
  ipConnectBurst: 100_000,
  ipAuthFailureBurst: 100_000,
  keyConnectBurst: 100_000,
  messagesPerSecond: 1_000_000,
  messageBurst: 1_000_000,
  maxUpstreamSocketsPerModel: 1000,
};

export interface ObservedStack {
  gateway: Gateway;
  metrics: GatewayMetrics;
  store: Store;
  sim: OnlyFansSimulator;
  logs: LogCapture;
  orgId: string;
  apiKey: string;
  keyId: string;
  modelId: string;
  relayUrl(modelId?: string): string;
  /** A plain HTTP request to the gateway. */
  request(path: string, method?: string): Promise<HttpAnswer>;
  /** Closes the gateway, the metrics, the simulator and the store (each at most once). */
  close(): Promise<void>;
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export async function startObservedStack(options: { config?: Record<string, unknown>; simulator?: SimulatorOptions } = {}): Promise<ObservedStack> {
  const dir = mkdtempSync(join(tmpdir(), 'ofgw-obs-'));
  const dbPath = join(dir, 'ofgw.db');
  const store = await openStore(dbPath);
  const sim = await startSimulator(options.simulator);
  const org = await store.createOrganization({ name: 'Observed Agency' });
  await store.setSubscription(org.id, { status: 'active', plan: 'pro' });
  const key = await store.createApiKey(org.id, { name: 'metrics' });
  const model = await store.createModel(org.id, { name: 'Model M', wsUrl: sim.wsUrl(24), wsToken: sim.issueToken({ userId: MODEL_USER_ID }) });
  // Generous connection limits, as startStack sets them: these suites test other things.
  const config = loadConfig({ port: 0, db: dbPath, changePollIntervalMs: 50, ...GENEROUS_LIMITS, ...options.config });
  const logs = new LogCapture();
  let metrics: GatewayMetrics | undefined;
  const gateway = new Gateway({
    config,
    store,
    logger: createLogger('info', logs),
    routes: (gw) => {
      metrics = createMetrics(gw);
      return [metrics.route, createHealthRoutes(gw)];
    },
  });
  const { port } = await gateway.listen();
  const wired = metrics as GatewayMetrics;
  const once = <T>(fn: () => Promise<T>): (() => Promise<T>) => {
    let p: Promise<T> | undefined;
    return () => (p ??= fn());
  };
  const closeGateway = once(() => gateway.close());
  const closeStore = once(() => store.close());
  return {
    gateway,
    metrics: wired,
    store,
    sim,
    logs,
    orgId: org.id,
    apiKey: key.key,
    keyId: key.id,
    modelId: model.id,
    relayUrl: (modelId = model.id) => `ws://127.0.0.1:${port}/api/models/${modelId}/ws`,
    request: (path, method = 'GET') => request(port, path, method),
    async close() {
      await closeGateway();
      wired.close();
      await sim.close();
      await closeStore();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function request(port: number, path: string, method: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** One sample line of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses the text exposition format strictly enough to catch a malformed answer: every line
 * is `# HELP`, `# TYPE` or a sample, and every sample's family was declared by `# TYPE`.
 */
export function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$/.exec(line);
    if (m) {
      helps.add(m[1]!);
      continue;
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      types.set(m[1]!, m[2]!);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    const value = Number(m[3]);
    // Prometheus reads values with Go's ParseFloat: NaN in any case (prom-client writes "Nan").
    if (Number.isNaN(value) && m[3]!.toLowerCase() !== 'nan') throw new Error(`bad sample value: ${line}`);
    const name = m[1]!;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count|total|created)$/, '');
    if (!types.has(family) && !types.has(name)) throw new Error(`sample without # TYPE: ${line}`);
    if (!helps.has(family) && !helps.has(name)) throw new Error(`sample without # HELP: ${line}`);
    samples.push({ name, labels, value });
  }
  return { samples, types };
}

/** The value of the one sample with that name and (a superset of) those labels. */
export function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hit = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hit.length > 1) throw new Error(`${hit.length} samples match ${name} ${JSON.stringify(labels)}`);
  return hit[0]?.value;
}
