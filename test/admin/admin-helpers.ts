/**
 * A stack with the management and customer APIs mounted, as `ofgw serve` mounts them.
 */
import { createAdminRoutes } from '../../src/admin/index.js';
import { createCustomerRoutes } from '../../src/api/index.js';
import type { Gateway } from '../../src/gateway/server.js';
import type { OnlyFansSimulator } from '../../src/sandbox/index.js';
import type { Store } from '../../src/store/types.js';
import { startStack, type LogCapture } from '../helpers.js';

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

/** startStack with the management and customer APIs mounted. */
export async function startAdminStack(options: { adminToken?: string; config?: Record<string, unknown> } = {}): Promise<AdminStack> {
  const adminToken = options.adminToken ?? ADMIN_TOKEN;
  const stack = await startStack({
    config: options.config,
    routes: (gw, logger) => [createAdminRoutes(gw, { adminToken, logger }), createCustomerRoutes(gw)],
  });
  const { port } = stack.gateway.address();
  const httpUrl = `http://127.0.0.1:${port}`;
  return {
    gateway: stack.gateway,
    store: stack.store,
    sim: stack.sim,
    logs: stack.logs,
    dbPath: stack.dbPath,
    port,
    httpUrl,
    wsUrl: stack.baseUrl,
    wsToken: stack.wsToken,
    admin: (method, path, body, opts = {}) => {
      const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
      return request(`${httpUrl}/admin/v1${path}`, method, body, {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...opts.headers,
      });
    },
    close: () => stack.close(),
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
