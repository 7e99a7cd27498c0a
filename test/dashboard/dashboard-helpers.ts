/**
 * A stack with the management API, the dashboard and the customer API mounted, as
 * `ofgw serve` mounts them, plus cookie-aware requests for the session tests.
 */
import { createAdminRoutes } from '../../src/admin/index.js';
import { createCustomerRoutes } from '../../src/api/index.js';
import { createDashboardRoutes } from '../../src/dashboard/index.js';
import { startStack, type Stack } from '../helpers.js';
import { ADMIN_TOKEN, request, type Answer } from '../admin/admin-helpers.js';

export { ADMIN_TOKEN, request, type Answer };

export interface DashboardStack extends Stack {
  httpUrl: string;
  /** One request to the gateway; `path` starts with a slash. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer>;
}

/** startStack with the admin, dashboard and customer routes; `adminToken: ''` disables both. */
export async function startDashboardStack(options: { adminToken?: string } = {}): Promise<DashboardStack> {
  const adminToken = options.adminToken ?? ADMIN_TOKEN;
  const stack = await startStack({
    routes: (gw, logger) => [
      createAdminRoutes(gw, { adminToken, logger }),
      createDashboardRoutes({ adminToken, logger, trustForwardedFor: false }),
      createCustomerRoutes(gw),
    ],
  });
  const httpUrl = `http://127.0.0.1:${stack.gateway.address().port}`;
  return { ...stack, httpUrl, call: (method, path, body, headers = {}) => request(`${httpUrl}${path}`, method, body, headers) };
}

/** The `name=value` part of a Set-Cookie header, for sending it back. */
export function cookiePair(answer: Answer): string {
  const header = answer.headers.get('set-cookie') ?? '';
  return header.split(';', 1)[0] ?? '';
}

/** Signs in with the admin token; the cookie to send back and the CSRF token. */
export async function signIn(stack: DashboardStack): Promise<{ cookie: string; csrfToken: string }> {
  const answer = await stack.call('POST', '/dashboard/api/session', { token: ADMIN_TOKEN });
  if (answer.status !== 201) throw new Error(`sign-in failed: ${answer.status} ${answer.text}`);
  return { cookie: cookiePair(answer), csrfToken: answer.json<{ csrfToken: string }>().csrfToken };
}
