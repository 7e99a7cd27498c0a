/**
 * Talking to the gateway: the session endpoints under /dashboard/api and the management API
 * under /admin/v1. The session is an HttpOnly cookie the page cannot read; the CSRF token
 * lives in this module's memory only and goes with every change.
 */

import type { ApiKeyRecord, DeliveryMode } from '../../src/store/types';

/** A failed request, with the server's `{error, code}` or what went wrong on the way. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SessionInfo {
  csrfToken: string;
  expiresAt: string;
}

let csrfToken: string | undefined;
let onSignedOut: (() => void) | undefined;

/** Called when the gateway says the session is gone (expired, or the admin token changed). */
export function whenSignedOut(listener: () => void): void {
  onSignedOut = listener;
}

async function send<T>(url: string, method: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiFailure(0, 'NETWORK', 'The gateway did not answer: check that it is running and reload');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const problem = (json ?? {}) as { error?: unknown; code?: unknown };
    const failure = new ApiFailure(
      res.status,
      typeof problem.code === 'string' ? problem.code : `HTTP_${res.status}`,
      typeof problem.error === 'string' ? problem.error : `The gateway answered ${res.status} ${res.statusText}`,
    );
    if (res.status === 401 && url.startsWith('/admin/')) onSignedOut?.();
    throw failure;
  }
  return json as T;
}

/** A management API call: `path` is relative to /admin/v1. */
export function api<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  return send<T>(`/admin/v1${path}`, method, body);
}

/** Signs in with the admin token (sent once, in the body; never kept). */
export async function signIn(token: string): Promise<SessionInfo> {
  const session = await send<SessionInfo>('/dashboard/api/session', 'POST', { token });
  csrfToken = session.csrfToken;
  return session;
}

/** The current session, if the cookie holds a valid one (after a reload). */
export async function currentSession(): Promise<SessionInfo | undefined> {
  // A signed-out answer is a 200, not a 401: the browser logs failed requests as errors.
  const answer = await send<({ signedIn: true } & SessionInfo) | { signedIn: false }>('/dashboard/api/session', 'GET');
  if (!answer.signedIn) return undefined;
  csrfToken = answer.csrfToken;
  return answer;
}

export async function signOut(): Promise<void> {
  await send<void>('/dashboard/api/session', 'DELETE');
  csrfToken = undefined;
}

/**
 * The management API's records, as the dashboard uses them: the server's own types where the
 * answer is the record as it is (type-only imports: nothing of the server reaches the bundle).
 */
export type { AuditEntry, DeletedOrganization, DeliveryMode, ModelEvent, Organization, RotatedApiKey } from '../../src/store/types';
export type { ClusterNode as GatewayNode, RelayView as Relay } from '../../src/cluster/types';
export type { WebhookAttempt, WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint, WebhookEndpointWithSecret } from '../../src/store/webhook-types';
export type ApiKey = ApiKeyRecord;
export interface Subscription {
  orgId: string;
  status: 'active' | 'canceled' | 'none';
  plan: string | null;
  updatedAt?: string;
}

export interface CreatedKey extends ApiKey {
  key: string;
}

export interface Model {
  id: string;
  orgId: string;
  name: string | null;
  status: 'connected' | 'disconnected';
  delivery: DeliveryMode;
  wsUrl: string | null;
  hasWsToken: boolean;
  userAgent: string | null;
  hasCookie: boolean;
  proxyUrl: string | null;
  createdAt: string;
  updatedAt: string;
  lastError: { at: string; reason: string | null } | null;
}


/** Webhook delivery attempts by result. */
export interface WebhookCounts {
  delivered: number;
  retrying: number;
  failed: number;
}

/** One interval of the cluster (GET /overview). */
export interface OverviewSample {
  at: string;
  relays: number;
  sessionClients: number;
  events: number;
  eventsPerMinute: number;
  attempts: Record<string, number>;
  upstreamFailures: number;
  sessionReconnects: number;
  webhooks: WebhookCounts;
}

export interface SessionModelState {
  id: string;
  orgId: string;
  name: string | null;
  status: 'connected' | 'disconnected';
  upstream: 'connected' | 'reconnecting' | 'down' | 'not running';
  node: string | null;
  clients: number;
}

export interface Overview {
  intervalMs: number;
  nodes: string[];
  missingNodes: string[];
  series: OverviewSample[];
  totals: { attempts: Record<string, number>; events: number; upstreamFailures: number; sessionReconnects: number; webhooks: WebhookCounts };
  sessionModels: SessionModelState[];
}
