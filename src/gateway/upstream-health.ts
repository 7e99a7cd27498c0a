/**
 * What the gateway learns from failed upstream attempts, and what it does about it (issue 3,
 * items 4 and 6): a token OnlyFans refused is marked rejected so later connections answer
 * NO_WS_CREDENTIALS without hammering OnlyFans; the operator's refresh endpoint, when
 * configured, is asked for fresh credentials; a failing proxy is recorded in the model's
 * audit trail (at most once a minute per model, so a reconnect storm does not flood it).
 */
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import type { UpstreamConnectError, UpstreamTarget } from '../upstream/connector.js';
import { RefreshError, type CredentialRefresher, type RefreshReason } from '../upstream/credential-refresh.js';

const PROXY_EVENT_INTERVAL_MS = 60_000;

export interface ModelRef {
  modelId: string;
  orgId: string;
}

export class UpstreamHealth {
  private readonly lastProxyEvent = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly refresher: CredentialRefresher | undefined,
  ) {}

  get canRefresh(): boolean {
    return this.refresher !== undefined;
  }

  /**
   * Fresh credentials from the refresh endpoint.
   * @throws {RefreshError} when none is configured or the call fails.
   */
  async refresh(model: ModelRef, reason: RefreshReason): Promise<UpstreamTarget> {
    if (!this.refresher) throw new RefreshError('no credential refresh endpoint is configured');
    try {
      return await this.refresher.refresh({ id: model.modelId, orgId: model.orgId }, reason);
    } catch (err) {
      if (err instanceof RefreshError) this.logger.warn({ modelId: model.modelId, reason, error: err.message }, 'credential refresh failed');
      throw err;
    }
  }

  /**
   * OnlyFans refused `usedToken`. Marks the model's credentials rejected unless they changed
   * meanwhile (another relay may already have refreshed them).
   */
  async tokenRejected(model: ModelRef, usedToken: string, error: UpstreamConnectError): Promise<void> {
    const current = await this.store.getModelCredentials(model.modelId);
    if (current?.wsToken !== usedToken) return;
    // Logged by the change watcher, like every lifecycle event that changes the model.
    await this.store.markCredentialsRejected(model.modelId, error.message);
  }

  /** Records a proxy failure in the audit trail, throttled per model. */
  proxyFailed(model: ModelRef, error: UpstreamConnectError): void {
    this.logger.warn({ modelId: model.modelId, orgId: model.orgId, reason: error.message }, 'model proxy failing');
    const now = Date.now();
    if (now - (this.lastProxyEvent.get(model.modelId) ?? 0) < PROXY_EVENT_INTERVAL_MS) return;
    this.lastProxyEvent.set(model.modelId, now);
    this.store.recordModelEvent(model.modelId, 'proxy_failing', error.message).catch((err: unknown) => {
      this.logger.error({ err, modelId: model.modelId }, 'recording a model event failed');
    });
  }
}
