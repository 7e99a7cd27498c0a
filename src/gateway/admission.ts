/**
 * Checks 1–6 of the contract (§2), in order, stopping at the first failure. Check 7 (the
 * upstream socket) belongs to the relay. Every failure is a {@link GatewayError} with the
 * catalog code; an answer never reveals what exists outside the caller's organization.
 */
import { GatewayError } from '../errors.js';
import { TOUCH_INTERVAL_MS, type ApiKeyRecord, type DeliveryMode, type ModelCredentials, type Store } from '../store/types.js';
import type { UpstreamTarget } from '../upstream/connector.js';
import { RefreshError, type RefreshReason } from '../upstream/credential-refresh.js';
import type { ConnectionLimits } from './limits/connection-limits.js';
import type { UpstreamHealth } from './upstream-health.js';
import { tokenExpiry } from '../upstream/token.js';

export interface ConnectionRequest {
  /** The key from `X-API-Key` or, failing that, `api_key`; undefined when neither was given. */
  apiKey: string | undefined;
  /** The raw `{model_id}` path segment, not yet validated. */
  modelId: string;
  /** The client's address, for per-IP limits. */
  clientIp: string;
}

/** The part of the key a live relay needs: which key (for revocations) and when it expires. */
export type AdmittedKey = Pick<ApiKeyRecord, 'id' | 'expiresAt'>;

/**
 * Who may open the relay, and what to open. Kept for the relay's lifetime, so it holds ids,
 * not records; `target` (the credentials) is dropped once the upstream is open.
 */
export interface Admission {
  orgId: string;
  key: AdmittedKey;
  modelId: string;
  /** The subscription's plan name, which selects the plan's limits. */
  plan: string | null;
  /** relay: the connection opens its own OnlyFans socket; session: it attaches to the model's shared one. */
  delivery: DeliveryMode;
  /** The credentials for a relay's own socket; always null in session mode (the session reads its own). */
  target: UpstreamTarget | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface AdmissionServices {
  /** Refreshes missing, expired or rejected credentials when the operator configured it. */
  health?: UpstreamHealth;
  /** The per-key attempt limit, applied once the key and its plan are known. */
  limits?: Pick<ConnectionLimits, 'checkKey'>;
}

/**
 * Runs checks 1–6 against the store. With `health`, credentials that are missing, expired or
 * rejected are refreshed through the operator's endpoint before check 6 gives up.
 * @throws {GatewayError} NO_API_KEY, INVALID_API_KEY, NO_SUBSCRIPTION, MODEL_NOT_FOUND,
 *   MODEL_NOT_CONNECTED or NO_WS_CREDENTIALS.
 */
export async function admitConnection(
  store: Store,
  request: ConnectionRequest,
  { health, limits }: AdmissionServices = {},
  now = new Date(),
): Promise<Admission> {
  const holder = await admitKey(store, request, limits, now);
  const admission = await admitModel(store, holder, request.modelId, { health }, now);
  recordKeyUse(store, holder.key, now);
  return admission;
}

/** Who a key belongs to once checks 1–3 passed: the key, its organization and plan. */
export interface KeyHolder {
  key: ApiKeyRecord;
  orgId: string;
  plan: string | null;
}

/**
 * Checks 1–3 (key present, key usable, subscription active) and the key's attempt limit: the
 * part of admission that does not depend on the model, run once per socket.
 * @throws {GatewayError} NO_API_KEY, INVALID_API_KEY, NO_SUBSCRIPTION or RATE_LIMITED.
 */
export async function admitKey(store: Store, request: Pick<ConnectionRequest, 'apiKey'>, limits?: AdmissionServices['limits'], now = new Date()): Promise<KeyHolder> {
  if (!request.apiKey) throw new GatewayError('NO_API_KEY');

  const key = await store.findApiKey(request.apiKey);
  if (!keyIsUsable(key, now)) throw new GatewayError('INVALID_API_KEY');

  const subscription = await store.getSubscription(key.orgId);
  if (subscription?.status !== 'active') throw new GatewayError('NO_SUBSCRIPTION');
  const limited = limits?.checkKey(key.id, subscription.plan);
  if (limited) throw limited;
  return { key, orgId: key.orgId, plan: subscription.plan };
}

export interface ModelAdmissionOptions {
  health?: UpstreamHealth;
  /**
   * Refuse a relay-mode model (multi-model sockets serve logged events only): BAD_REQUEST,
   * before its credentials are looked at.
   */
  sessionOnly?: boolean;
}

/**
 * Checks 4–6 for one model of an admitted key: it exists in the key's organization, it is
 * connected, its credentials can serve it.
 * @throws {GatewayError} MODEL_NOT_FOUND, MODEL_NOT_CONNECTED, NO_WS_CREDENTIALS (or BAD_REQUEST
 *   for a relay-mode model with `sessionOnly`).
 */
export async function admitModel(store: Store, holder: KeyHolder, rawModelId: string, { health, sessionOnly }: ModelAdmissionOptions = {}, now = new Date()): Promise<Admission> {
  const { key } = holder;
  const modelId = rawModelId.toLowerCase();
  const model = UUID.test(modelId) ? await store.getModel(modelId) : undefined;
  if (!model || model.orgId !== key.orgId) throw new GatewayError('MODEL_NOT_FOUND');

  if (model.status !== 'connected') throw new GatewayError('MODEL_NOT_CONNECTED');

  const delivery = model.delivery;
  if (sessionOnly && delivery !== 'session') throw relayModelRefused();
  const credentials = await store.getModelCredentials(model.id);
  let target = usableTarget(credentials, now);
  const admitted = { orgId: key.orgId, key: { id: key.id, expiresAt: key.expiresAt }, modelId: model.id, plan: holder.plan, delivery };
  if (delivery === 'session') {
    // The session reads and refreshes the credentials itself (once, for every client): a
    // client is refused only when they are unusable and nothing can refresh them.
    if ((!target.ok || model.credentialsRejectedAt) && !health?.canRefresh) {
      throw new GatewayError('NO_WS_CREDENTIALS', target.ok ? `OnlyFans rejected the model's token at ${model.credentialsRejectedAt}` : target.problem.message);
    }
    return { ...admitted, target: null };
  }
  if (!target.ok || model.credentialsRejectedAt) {
    const problem: CredentialProblem = target.ok
      ? { reason: 'rejected', message: `OnlyFans rejected the model's token at ${model.credentialsRejectedAt}` }
      : target.problem;
    // Check 6 fails unless the operator's refresh endpoint supplies working credentials.
    if (!health?.canRefresh) throw new GatewayError('NO_WS_CREDENTIALS', problem.message);
    try {
      target = { ok: true, target: await health.refresh({ modelId: model.id, orgId: key.orgId }, problem.reason) };
    } catch (err) {
      if (!(err instanceof RefreshError)) throw err;
      throw new GatewayError('NO_WS_CREDENTIALS', `${problem.message}; refreshing them failed: ${err.message}`);
    }
  }
  return { ...admitted, target: target.target };
}

/**
 * A relay-mode model asked for on a multi-model socket (at admission, or when it switches back
 * to relay while attached): such a socket serves logged events, which relay mode does not keep.
 */
export function relayModelRefused(): GatewayError {
  return new GatewayError('BAD_REQUEST', "The model is in relay mode; a multi-model socket serves session-mode models only (set the model's delivery to session)");
}

/** Notes the key's last use (at most every TOUCH_INTERVAL_MS), never failing the connection. */
export function recordKeyUse(store: Store, key: ApiKeyRecord, now = new Date()): void {
  if (!key.lastUsedAt || now.getTime() - new Date(key.lastUsedAt).getTime() >= TOUCH_INTERVAL_MS) {
    void store.touchApiKey(key.id, now).catch(() => {
      // Last-used bookkeeping must never fail a connection.
    });
  }
}

interface CredentialProblem {
  reason: RefreshReason;
  message: string;
}

type TargetCheck = { ok: true; target: UpstreamTarget } | { ok: false; problem: CredentialProblem };

/** Credentials are usable when both URL and token are stored and the token is not known expired. */
function usableTarget(credentials: ModelCredentials | undefined, now: Date): TargetCheck {
  if (!credentials?.wsUrl || !credentials.wsToken) {
    return { ok: false, problem: { reason: 'missing', message: 'The model has no WebSocket URL or auth token' } };
  }
  const expiry = tokenExpiry(credentials.wsToken);
  if (expiry && expiry <= now) {
    return { ok: false, problem: { reason: 'expired', message: `The model's WebSocket token expired at ${expiry.toISOString()}` } };
  }
  const { wsUrl, wsToken, userAgent, cookie, proxyUrl } = credentials;
  return { ok: true, target: { wsUrl, wsToken, userAgent, cookie, proxyUrl } };
}

/** A key admits connections while it is not revoked and not past its expiry. */
export function keyIsUsable(key: ApiKeyRecord | undefined, now: Date): key is ApiKeyRecord {
  if (!key || key.revokedAt) return false;
  return !key.expiresAt || new Date(key.expiresAt) > now;
}
