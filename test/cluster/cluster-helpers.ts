/**
 * Several gateway nodes in one test: each with its own store connection on one shared
 * database, its own Redis coordinator (a unique key prefix per test) and the management API
 * mounted, in front of one simulator. Also a TCP proxy to cut a node off from Redis.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createAdminRoutes } from '../../src/admin/index.js';
import { loadConfig } from '../../src/config.js';
import { Gateway } from '../../src/gateway/server.js';
import { createHealthRoutes } from '../../src/observability/health.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createLogger } from '../../src/log.js';
import { startSimulator, type OnlyFansSimulator } from '../../src/sandbox/index.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { request, ADMIN_TOKEN, type Answer } from '../admin/admin-helpers.js';
import { LogCapture, MODEL_USER_ID, TEST_LIMITS, TestClient } from '../helpers.js';
import { POSTGRES_URL, REDIS_URL } from '../services.js';
import { postgresUrlFor } from '../store/temp-store.js';

export interface TestNode {
  gateway: Gateway;
  store: Store;
  logs: LogCapture;
  port: number;
  relayUrl(modelId?: string): string;
  admin(method: string, path: string, body?: unknown): Promise<Answer>;
  close(): Promise<void>;
}

export interface TestCluster {
  nodes: TestNode[];
  sim: OnlyFansSimulator;
  /** The first node's store, for arranging records. */
  store: Store;
  prefix: string;
  orgId: string;
  apiKey: string;
  keyId: string;
  modelId: string;
  /** A token the simulator accepts, for further models. */
  wsToken: string;
  addNode(config?: Record<string, unknown>): Promise<TestNode>;
  /** Opens a relay on `node` with the cluster's key. */
  client(node: TestNode, modelId?: string): TestClient;
  close(): Promise<void>;
}


export interface ClusterOptions {
  nodes?: number;
  /** Settings for every node (redis defaults to the machine's Redis). */
  config?: Record<string, unknown>;
}

export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'ofgw-cluster-'));
  const dbPath = join(dir, 'ofgw.db');
  const prefix = `ofgw-test:${randomBytes(4).toString('hex')}:`;
  const first = await openStore(dbPath);
  const sim = await startSimulator();
  const org = await first.createOrganization({ name: 'Cluster Agency' });
  await first.setSubscription(org.id, { status: 'active', plan: 'pro' });
  const key = await first.createApiKey(org.id, { name: 'cluster' });
  const wsToken = sim.issueToken({ userId: MODEL_USER_ID });
  const model = await first.createModel(org.id, { name: 'Model A', wsUrl: sim.wsUrl(24), wsToken });
  const nodes: TestNode[] = [];

  const addNode = async (config: Record<string, unknown> = {}): Promise<TestNode> => {
    const store = await openStore(dbPath);
    const closers: (() => void)[] = [];
    const logs = new LogCapture();
    const logger = createLogger('info', logs);
    const gateway = new Gateway({
      config: loadConfig({ port: 0, db: dbPath, redis: REDIS_URL, redisPrefix: prefix, adminToken: ADMIN_TOKEN, ...TEST_LIMITS, maxUpstreamSocketsPerModel: 4, ...options.config, ...config }),
      store,
      logger,
      version: 'test',
      routes: (gw) => {
        const metrics = createMetrics(gw);
        closers.push(() => metrics.close());
        return [createHealthRoutes(gw), metrics.route, createAdminRoutes(gw, { adminToken: ADMIN_TOKEN, logger })];
      },
    });
    let port: number;
    try {
      port = (await gateway.listen()).port;
    } catch (err) {
      await store.close();
      throw err;
    }
    let closed = false;
    const node: TestNode = {
      gateway,
      store,
      logs,
      port,
      relayUrl: (modelId = model.id) => `ws://127.0.0.1:${port}/api/models/${modelId}/ws`,
      admin: (method, path, body) => request(`http://127.0.0.1:${port}/admin/v1${path}`, method, body, { authorization: `Bearer ${ADMIN_TOKEN}` }),
      async close() {
        if (closed) return;
        closed = true;
        await gateway.close();
        for (const close of closers) close();
        await store.close();
      },
    };
    nodes.push(node);
    return node;
  };

  for (let i = 0; i < (options.nodes ?? 2); i++) await addNode();
  return {
    nodes,
    sim,
    store: first,
    prefix,
    orgId: org.id,
    apiKey: key.key,
    keyId: key.id,
    modelId: model.id,
    wsToken,
    addNode,
    client: (node, modelId) => new TestClient(node.relayUrl(modelId), { headers: { 'X-API-Key': key.key } }),
    async close() {
      for (const node of nodes) await node.close();
      await sim.close();
      await first.close();
      await deleteKeys(REDIS_URL, prefix);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Deletes every Redis key under `prefix` (a test's own). */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    for (let round = 0; round < 10_000; round++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    redis.disconnect();
  }
}

/**
 * A TCP relay to Redis that a test can cut (every connection closed, new ones refused) and
 * restore on the same port: Redis "briefly unavailable" without touching the real server.
 */
export class CuttableProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target);
      this.sockets.add(client).add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Closes every connection and stops listening. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export function redisTarget(url: string = REDIS_URL): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379) };
}

/** A fresh schema on the machine's PostgreSQL and a URL that selects it; dropped by `drop()`. */
export async function tempSchema(): Promise<{ url: string; drop(): Promise<void> }> {
  const schema = `ofgw_cluster_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  return {
    url: postgresUrlFor(schema),
    async drop() {
      const c = new pg.Client({ connectionString: POSTGRES_URL });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    },
  };
}
