/**
 * Test helpers for the simulator: a `ws` client that queues what it receives so tests can
 * await the next frame (with a timeout) instead of sleeping, and setup that always cleans up.
 */
import type { TestContext } from 'node:test';
import WebSocket from 'ws';
import { startSimulator, type OnlyFansSimulator, type SimulatorOptions } from '../../src/sandbox/index.js';

export const CONNECTED_REPLY = '{"connected": true, "v": "5.4.0"}';

/** A frame the client received. */
export interface Inbound {
  data: Buffer;
  isBinary: boolean;
}

/** How the client's socket ended. */
export interface CloseInfo {
  code: number;
  reason: string;
}

/** A `ws` client that buffers inbound frames and counts pongs. */
export class TestClient {
  readonly errors: Error[] = [];
  readonly closed: Promise<CloseInfo>;
  pongs = 0;
  private readonly inbox: Inbound[] = [];
  private waiter: ((frame: Inbound) => void) | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary) => {
      const frame = { data, isBinary };
      const waiter = this.waiter;
      this.waiter = undefined;
      if (waiter !== undefined) waiter(frame);
      else this.inbox.push(frame);
    });
    ws.on('pong', () => this.pongs++);
    ws.on('error', (error) => this.errors.push(error));
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  /** Opens a socket; rejects if the upgrade fails. */
  static open(url: string, headers: Record<string, string> = {}): Promise<TestClient> {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    const client = new TestClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  /** Frames received and not yet taken. */
  get pending(): number {
    return this.inbox.length;
  }

  /** The next frame, waiting at most `timeoutMs`. */
  next(timeoutMs = 2000): Promise<Inbound> {
    const queued = this.inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (frame) => {
        clearTimeout(timer);
        resolve(frame);
      };
    });
  }

  /** The next frame parsed as JSON. */
  async nextJson(timeoutMs?: number): Promise<unknown> {
    return JSON.parse((await this.next(timeoutMs)).data.toString('utf8'));
  }

  /** Sends a value as JSON, in a text frame unless `binary`. */
  sendJson(value: unknown, binary = false): void {
    this.ws.send(Buffer.from(JSON.stringify(value)), { binary });
  }

  /** Sends `get_onlines` and returns the reply; also proves nothing else was queued before it. */
  async roundTrip(ids: unknown[] = []): Promise<unknown> {
    this.sendJson({ act: 'get_onlines', ids });
    return this.nextJson();
  }

  /** Ends the socket at once if it is still open and waits for its close event. */
  async dispose(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
    await this.closed;
  }
}

/** Starts a simulator that is closed when the test ends. */
export async function startTestSimulator(t: TestContext, options?: SimulatorOptions): Promise<OnlyFansSimulator> {
  const sim = await startSimulator(options);
  t.after(() => sim.close());
  return sim;
}

/** Opens a client that is terminated when the test ends. */
export async function openClient(t: TestContext, url: string, headers?: Record<string, string>): Promise<TestClient> {
  const client = await TestClient.open(url, headers);
  t.after(() => client.dispose());
  return client;
}

/** Opens a client, authenticates it as `userId` and checks the connected reply. */
export async function connectAs(
  t: TestContext,
  sim: OnlyFansSimulator,
  userId: number | string,
  ttlSeconds?: number,
): Promise<TestClient> {
  const client = await openClient(t, sim.wsUrl());
  const token = sim.issueToken(ttlSeconds === undefined ? { userId } : { userId, ttlSeconds });
  client.sendJson({ act: 'connect', token });
  const reply = await client.next();
  if (reply.data.toString() !== CONNECTED_REPLY) throw new Error(`unexpected reply ${reply.data.toString()}`);
  return client;
}

/** What a failed upgrade looked like to the client. */
export type UpgradeFailure = { status: number; body: string } | { error: Error };

/** Attempts an upgrade that is expected to fail, and reports how it failed. */
export function failedUpgrade(url: string): Promise<UpgradeFailure> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('upgrade unexpectedly succeeded'));
    });
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    ws.on('error', (error) => resolve({ error }));
  });
}

/** Polls a condition (for simulator-side state that has no event), failing after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Rejects if `promise` does not settle within `timeoutMs`. */
export function within<T>(promise: Promise<T>, timeoutMs = 2000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
