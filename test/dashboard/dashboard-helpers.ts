/**
 * A stack with the management API, the dashboard and the customer API mounted, as
 * `ofgw serve` mounts them, plus cookie-aware requests for the session tests.
 */
import { createAdminRoutes } from '../../src/admin/index.js';
import { createCustomerRoutes } from '../../src/api/index.js';
import { createDashboardRoutes } from '../../src/dashboard/index.js';
import { MODEL_USER_ID, startStack, TestClient, waitFor, type Stack } from '../helpers.js';
import { ADMIN_TOKEN, request, type Answer } from '../admin/admin-helpers.js';

export { ADMIN_TOKEN, request, type Answer };

export interface DashboardStack extends Stack {
  httpUrl: string;
  /** One request to the gateway; `path` starts with a slash. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer>;
}

/** startStack with the admin, dashboard and customer routes; `adminToken: ''` disables both. */
export async function startDashboardStack(options: { adminToken?: string; config?: Record<string, unknown> } = {}): Promise<DashboardStack> {
  const adminToken = options.adminToken ?? ADMIN_TOKEN;
  const stack = await startStack({
    // Overview samples 5 times a second, so its charts fill within a test.
    config: { overviewSampleMs: 200, ...options.config },
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

/**
 * Traffic for the Overview page: the stack's model in session mode with `sessionClients`
 * clients, `relays` relays on a second model, `events` events pushed (each read by every session
 * client), and one attempt refused for a wrong key. Returns the open clients, to close later.
 */
export async function overviewTraffic(stack: Stack, counts = { sessionClients: 2, relays: 2, events: 5 }): Promise<TestClient[]> {
  await stack.store.updateModel(stack.modelId, { delivery: 'session' });
  await waitFor(() => stack.sim.currentConnections(MODEL_USER_ID) === 1, 5000, 'the session socket');
  const relayModel = await stack.store.createModel(stack.orgId, { name: 'Relay model', wsUrl: stack.sim.wsUrl(24), wsToken: stack.sim.issueToken({ userId: 626262 }) });
  const open = (modelId: string, key = stack.apiKey): TestClient => new TestClient(stack.relayUrl(modelId), { headers: { 'X-API-Key': key } });
  const sessionClients = Array.from({ length: counts.sessionClients }, () => open(stack.modelId));
  const relays = Array.from({ length: counts.relays }, () => open(relayModel.id));
  for (const c of [...sessionClients, ...relays]) await c.confirmed();
  const refused = open(relayModel.id, `${stack.apiKey.slice(0, -1)}${stack.apiKey.endsWith('x') ? 'y' : 'x'}`);
  await refused.closed;
  for (let i = 0; i < counts.events; i++) stack.sim.push(MODEL_USER_ID, { api2_chat_message: { id: i, text: `overview ${i}` } });
  for (const c of sessionClients) for (let i = 0; i < counts.events; i++) await c.next();
  return [...sessionClients, ...relays];
}
