/**
 * A gateway wired the way `ofgw serve` wires it: metrics and health routes in front of the
 * relay, on test/helpers.ts's startStack.
 */
import http from 'node:http';
import { createHealthRoutes } from '../../src/observability/health.js';
import { createMetrics, type GatewayMetrics } from '../../src/observability/metrics.js';
import { startStack, type Stack, type StackOptions } from '../helpers.js';

export interface ObservedStack extends Stack {
  metrics: GatewayMetrics;
  /** A plain HTTP request to the gateway. */
  request(path: string, method?: string): Promise<HttpAnswer>;
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** startStack with the metrics and health routes mounted. */
export async function startObservedStack(options: Omit<StackOptions, 'routes'> = {}): Promise<ObservedStack> {
  let metrics: GatewayMetrics | undefined;
  const stack = await startStack({
    ...options,
    routes: (gw) => {
      metrics = createMetrics(gw);
      return [metrics.route, createHealthRoutes(gw)];
    },
  });
  const wired = metrics as GatewayMetrics;
  const { port } = stack.gateway.address();
  return {
    ...stack,
    metrics: wired,
    request: (path, method = 'GET') => request(port, path, method),
    async close() {
      await stack.gateway.close();
      wired.close();
      await stack.close();
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
