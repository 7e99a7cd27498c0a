/**
 * Fresh OnlyFans credentials from the operator's own login service (issue 3, item 4). When a
 * model's token is expired, missing or rejected, the gateway POSTs
 *
 *   {"modelId": "…", "orgId": "…", "reason": "expired" | "rejected" | "missing"}
 *
 * signed with `X-Ofgw-Signature: sha256=<hex HMAC-SHA-256(secret, "<timestamp>.<body>")>` and
 * `X-Ofgw-Timestamp: <unix seconds>` (so the service can refuse replays), and expects 200 with
 * `{"wsUrl": "wss://…", "wsToken": "…"}` (optionally `userAgent`, `cookie`). One call is in
 * flight per model however many clients wait on it, and each is bounded in time.
 */
import { createHmac } from 'node:crypto';
import { StoreError } from '../store/errors.js';
import type { Store } from '../store/types.js';
import type { UpstreamTarget } from './connector.js';

export type RefreshReason = 'expired' | 'rejected' | 'missing';

export interface RefresherOptions {
  url: string;
  secret: string;
  timeoutMs: number;
  store: Store;
}

/** Why a refresh failed; the message names the cause and never a credential. */
export class RefreshError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RefreshError';
  }
}

/**
 * After a failed refresh, attempts for the same model within this window get the same error
 * without a new call, so clients reconnecting in a loop do not hammer the login service.
 */
const FAILURE_MEMORY_MS = 5_000;

export class CredentialRefresher {
  private readonly inflight = new Map<string, Promise<UpstreamTarget>>();
  private readonly recentFailures = new Map<string, { at: number; error: RefreshError }>();

  constructor(private readonly options: RefresherOptions) {}

  /** New credentials for the model, stored before they are returned. */
  refresh(model: { id: string; orgId: string }, reason: RefreshReason): Promise<UpstreamTarget> {
    const failure = this.recentFailures.get(model.id);
    if (failure && Date.now() - failure.at < FAILURE_MEMORY_MS) return Promise.reject(failure.error);
    let call = this.inflight.get(model.id);
    if (!call) {
      call = this.call(model, reason)
        .then(
          (target) => {
            this.recentFailures.delete(model.id);
            return target;
          },
          (err: unknown) => {
            if (err instanceof RefreshError) this.recentFailures.set(model.id, { at: Date.now(), error: err });
            throw err;
          },
        )
        .finally(() => this.inflight.delete(model.id));
      this.inflight.set(model.id, call);
    }
    return call;
  }

  private async call(model: { id: string; orgId: string }, reason: RefreshReason): Promise<UpstreamTarget> {
    const { url, secret, timeoutMs, store } = this.options;
    const body = JSON.stringify({ modelId: model.id, orgId: model.orgId, reason });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-ofgw-timestamp': timestamp, 'x-ofgw-signature': `sha256=${signature}` },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      if (e.name === 'TimeoutError') throw new RefreshError(`the credential refresh endpoint did not answer within ${timeoutMs} ms`);
      throw new RefreshError(`the credential refresh endpoint could not be reached (${e.cause?.code ?? e.name})`);
    }
    let payload: unknown;
    try {
      if (!response.ok) throw new RefreshError(`the credential refresh endpoint answered HTTP ${response.status}`);
      payload = await response.json();
    } catch (err) {
      if (err instanceof RefreshError) throw err;
      throw new RefreshError('the credential refresh endpoint answered with something other than JSON');
    } finally {
      // Never leave a body half-read (it would hold the connection).
      if (!response.bodyUsed) await response.body?.cancel().catch(() => {});
    }
    const creds = parseCredentials(payload);
    try {
      await store.refreshCredentials(model.id, creds);
    } catch (err) {
      if (err instanceof StoreError) throw new RefreshError(`the credential refresh endpoint returned unusable credentials: ${err.message}`);
      throw err;
    }
    const stored = await store.getModelCredentials(model.id);
    if (!stored?.wsUrl || !stored.wsToken) throw new RefreshError('the model disappeared during the refresh');
    return { wsUrl: stored.wsUrl, wsToken: stored.wsToken, userAgent: stored.userAgent, cookie: stored.cookie, proxyUrl: stored.proxyUrl };
  }
}

function parseCredentials(payload: unknown): { wsUrl: string; wsToken: string; userAgent?: string | null; cookie?: string | null } {
  if (typeof payload !== 'object' || payload === null) throw new RefreshError('the credential refresh endpoint answered a non-object');
  const p = payload as Record<string, unknown>;
  if (typeof p.wsUrl !== 'string' || typeof p.wsToken !== 'string') {
    throw new RefreshError('the credential refresh endpoint answered without string wsUrl and wsToken');
  }
  const optional = (v: unknown, name: string): string | null | undefined => {
    if (v === undefined || v === null || typeof v === 'string') return v;
    throw new RefreshError(`the credential refresh endpoint answered a non-string ${name}`);
  };
  return { wsUrl: p.wsUrl, wsToken: p.wsToken, userAgent: optional(p.userAgent, 'userAgent'), cookie: optional(p.cookie, 'cookie') };
}
