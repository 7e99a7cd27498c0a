/**
 * A stack with the management and customer APIs mounted, as `ofgw serve` will mount them,
 * built from the same parts as test/helpers.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdminRoutes } from '../../src/admin/index.js';
import { createCustomerRoutes } from '../../src/api/index.js';
import { loadConfig } from '../../src/config.js';
import { Gateway } from '../../src/gateway/server.js';
import { createLogger } from '../../src/log.js';
import { startSimulator, type OnlyFansSimulator } from '../../src/sandbox/index.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { LogCapture, MODEL_USER_ID } from '../helpers.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef0123456789';

export interface AdminStack {
  gateway: Gateway;
  store: Store;
  sim: OnlyFansSimulator;
  logs: LogCapture;
  dbPath: string;
  port: number;
  httpUrl: string;
  wsUrl: string;
  /** A token the simulator accepts, for new models. */
  wsToken: string;
  /** Calls the management API; `token: null` sends no Authorization header. */
  admin(method: string, path: string, body?: unknown, options?: { token?: string | null; headers?: Record<string, string> }): Promise<Answer>;
  close(): Promise<void>;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

export async function startAdminStack(options: { adminToken?: string } = {}): Promise<AdminStack> {
  const dir = mkdtempSync(join(tmpdir(), 'ofgw-admin-'));
  const dbPath = join(dir, 'ofgw.db');
  const store = await openStore(dbPath);
  const sim = await startSimulator();
  const config = loadConfig({ port: 0, db: dbPath, changePollIntervalMs: 50 });
  const logs = new LogCapture();
  const logger = createLogger('info', logs);
  const adminToken = options.adminToken ?? ADMIN_TOKEN;
  const gateway = new Gateway({
    config,
    store,
    logger,
    routes: (gw) => [createAdminRoutes(gw, { adminToken, logger }), createCustomerRoutes(gw)],
  });
  const { port } = await gateway.listen();
  const httpUrl = `http://127.0.0.1:${port}`;
  return {
    gateway,
    store,
    sim,
    logs,
    dbPath,
    port,
    httpUrl,
    wsUrl: `ws://127.0.0.1:${port}`,
    wsToken: sim.issueToken({ userId: MODEL_USER_ID }),
    admin: (method, path, body, opts = {}) => {
      const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
      return request(`${httpUrl}/admin/v1${path}`, method, body, {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...opts.headers,
      });
    },
    async close() {
      await gateway.close();
      await sim.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One HTTP request; a body is sent as JSON (content type included) unless it is a string. */
export async function request(url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const sent: Record<string, string> = { ...headers };
  let payload: string | undefined;
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    sent['content-type'] ??= 'application/json';
  }
  const res = await fetch(url, { method, headers: sent, body: payload });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: <T>() => JSON.parse(text) as T };
}
