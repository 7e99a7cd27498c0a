/**
 * Test harness: a real store (SQLite file in a temp dir), a real simulator and a real
 * gateway on 127.0.0.1, plus a client that lets a test await the next frame or the close.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import WebSocket from 'ws';
import { loadConfig, type GatewayConfig } from '../src/config.js';
import { ClientConnection } from '../src/gateway/client-connection.js';
import { Gateway, type HttpRoute } from '../src/gateway/server.js';
import { createLogger, type Logger } from '../src/log.js';
import { startSimulator, type OnlyFansSimulator, type SimulatorOptions } from '../src/sandbox/index.js';
import { openStore } from '../src/store/index.js';
import type { CreatedApiKey, Store } from '../src/store/types.js';

export const MODEL_USER_ID = 424242;

export const TEST_LIMITS = {
  ipConnectBurst: 100_000,
  ipAuthFailureBurst: 100_000,
  keyConnectBurst: 100_000,
  messagesPerSecond: 1_000_000,
  messageBurst: 1_000_000,
  maxUpstreamSocketsPerModel: 1000,
};

/**
 * `key` with its last character changed, so its checksum no longer matches. (Appending a fixed
 * character instead would give the key back unchanged whenever it already ended with it.)
 */
export function tamperedKey(key: string): string {
  return `${key.slice(0, -1)}${key.endsWith('x') ? 'y' : 'x'}`;
}

/**
 * An API key of `orgId` that has just expired: the store refuses to create a key already
 * expired, so it gets an expiry a moment ahead and the test waits until that has passed.
 */
export async function expiredKey(store: Store, orgId: string): Promise<CreatedApiKey> {
  const expiresAt = Date.now() + 100;
  const key = await store.createApiKey(orgId, { expiresAt: new Date(expiresAt).toISOString() });
  await waitFor(() => Date.now() > expiresAt, 5000, 'the key to expire');
  return key;
}

/** Collects log lines so tests can read them (and check them for secrets). */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    cb();
  }
  records(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

export interface Stack {
  gateway: Gateway;
  store: Store;
  sim: OnlyFansSimulator;
  config: GatewayConfig;
  logs: LogCapture;
  dbPath: string;
  baseUrl: string;
  orgId: string;
  apiKey: string;
  keyId: string;
  modelId: string;
  wsToken: string;
  relayUrl(modelId?: string, query?: string): string;
  close(): Promise<void>;
}

export interface StackOptions {
  config?: Record<string, unknown>;
  simulator?: SimulatorOptions;
  /** HTTP endpoints to mount, as `ofgw serve` mounts its own (management API, metrics…). */
  routes?: (gateway: Gateway, logger: Logger) => HttpRoute[];
}

/** Starts store + simulator + gateway with one active organization, key and model. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'ofgw-test-'));
  const dbPath = join(dir, 'ofgw.db');
  const store = await openStore(dbPath);
  const sim = await startSimulator(options.simulator);
  const org = await store.createOrganization({ name: 'Acme Agency' });
  await store.setSubscription(org.id, { status: 'active', plan: 'pro' });
  const key = await store.createApiKey(org.id, { name: 'test' });
  const wsToken = sim.issueToken({ userId: MODEL_USER_ID });
  const model = await store.createModel(org.id, { name: 'Model A', wsUrl: sim.wsUrl(24), wsToken, userAgent: 'TestAgent/1.0' });
  // Generous limits by default: suites that open many relays from 127.0.0.1 test other things;
  // test/gateway/limits.test.ts sets its own.
  const config = loadConfig({ port: 0, db: dbPath, changePollIntervalMs: 50, ...TEST_LIMITS, ...options.config });
  const logs = new LogCapture();
  const logger = createLogger('info', logs);
  const routes = options.routes;
  const gateway = new Gateway({ config, store, logger, routes: routes && ((gw) => routes(gw, logger)) });
  const address = await gateway.listen();
  const baseUrl = `ws://127.0.0.1:${address.port}`;
  return {
    gateway,
    store,
    sim,
    config,
    logs,
    dbPath,
    baseUrl,
    orgId: org.id,
    apiKey: key.key,
    keyId: key.id,
    modelId: model.id,
    wsToken,
    relayUrl(modelId = model.id, query = '') {
      return `${baseUrl}/api/models/${modelId}/ws${query}`;
    },
    async close() {
      await gateway.close();
      await sim.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Frame {
  data: Buffer;
  isBinary: boolean;
  text: string;
  json(): Record<string, unknown>;
}

/** A `ws` client that queues frames, so tests await them in order instead of sleeping. */
export class TestClient {
  readonly socket: WebSocket;
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: (() => void)[] = [];
  private read = 0;

  constructor(url: string, options: WebSocket.ClientOptions = {}) {
    this.socket = new WebSocket(url, { perMessageDeflate: false, ...options });
    this.socket.on('message', (data, isBinary) => {
      const buf = data as Buffer;
      this.frames.push({
        data: buf,
        isBinary,
        text: buf.toString('utf8'),
        json: () => JSON.parse(buf.toString('utf8')) as Record<string, unknown>,
      });
      this.wake();
    });
    this.socket.on('error', () => {});
    this.closed = new Promise((resolve) => {
      this.socket.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.wake();
      });
    });
  }

  /** The next unread frame; rejects after `timeoutMs` or if the socket closes first. */
  async next(timeoutMs = 5000): Promise<Frame> {
    await waitFor(() => this.frames.length > this.read || this.socket.readyState === WebSocket.CLOSED, timeoutMs, 'a frame', (fn) => this.waiters.push(fn));
    const frame = this.frames[this.read];
    if (!frame) throw new Error('socket closed before the next frame');
    this.read++;
    return frame;
  }

  /** Waits for the confirmation frame and checks it. */
  async confirmed(): Promise<Record<string, unknown>> {
    const frame = (await this.next()).json();
    if (frame.connected !== true) throw new Error(`expected the confirmation, got ${JSON.stringify(frame)}`);
    return frame;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/**
 * Resolves once `condition()` holds. `subscribe` registers a wake-up for event-driven
 * checks; without one the condition is polled every 10 ms. Rejects after `timeoutMs`.
 */
export function waitFor(
  condition: () => boolean,
  timeoutMs = 5000,
  what = 'condition',
  subscribe?: (wake: () => void) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (condition()) return resolve();
    const deadline = setTimeout(() => {
      clearInterval(poll);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const check = (): void => {
      if (condition()) {
        clearTimeout(deadline);
        clearInterval(poll);
        resolve();
      } else subscribe?.(check);
    };
    const poll = setInterval(check, subscribe ? 250 : 10);
    subscribe?.(check);
  });
}

/** The gateway's WebSocket connections (its registry also holds server-sent events streams). */
export /** Resolves once the async `condition` holds, checking every 10 ms; rejects after `timeoutMs`. */
async function eventually(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function socketConnections(gateway: Gateway): ClientConnection[] {
  return [...gateway.registry.all].filter((c): c is ClientConnection => c instanceof ClientConnection);
}

/** Opens a relay and waits for its confirmation. */
export async function openRelay(stack: Stack, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
  const client = new TestClient(stack.relayUrl(), { headers: { 'X-API-Key': stack.apiKey }, ...options });
  await client.confirmed();
  return client;
}

/** A bare OnlyFans stand-in that records what it receives and how it was closed. */
export interface ScriptedUpstream {
  url: string;
  /** The gateway's socket, once it sent the connect act. */
  socket(): Promise<WebSocket>;
  received: { data: Buffer; isBinary: boolean }[];
  closes: { code: number; reason: string }[];
  close(): Promise<void>;
}

export async function startScriptedUpstream(): Promise<ScriptedUpstream> {
  const { WebSocketServer } = await import('ws');
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((r) => server.once('listening', r));
  const received: { data: Buffer; isBinary: boolean }[] = [];
  const closes: { code: number; reason: string }[] = [];
  const sockets: WebSocket[] = [];
  server.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.once('message', () => {
      ws.send('{"connected": true, "v": "5.4.0"}');
      sockets.push(ws);
      ws.on('message', (data, isBinary) => received.push({ data: data as Buffer, isBinary }));
    });
    ws.on('close', (code, reason) => closes.push({ code, reason: reason.toString() }));
  });
  const { port } = server.address() as import('node:net').AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/ws3/1`,
    received,
    closes,
    async socket() {
      await waitFor(() => sockets.length > 0, 5000, 'the upstream connection');
      return sockets[sockets.length - 1] as WebSocket;
    },
    async close() {
      for (const c of server.clients) c.terminate();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A port that was free a moment ago (for "connection refused" and fixed-port restarts). */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as import('node:net').AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}
