/**
 * Webhooks on a node: the delivery worker, and the intake of each session this node holds.
 * The gateway starts it when it listens and stops it when it closes.
 */
import type { GatewayConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { EventLog } from '../sessions/types.js';
import type { WebhookStore } from '../store/webhook-types.js';
import { ENDPOINTS_RECHECK_MS, SessionIntake } from './intake.js';
import { DeliveryWorker } from './worker.js';
import type { Resolver } from './target-policy.js';

export interface WebhookServiceOptions {
  store: WebhookStore;
  nodeId: string;
  config: GatewayConfig;
  logger: Logger;
  resolve?: Resolver;
}

export class WebhookService {
  readonly worker: DeliveryWorker;
  private readonly intakes = new Set<SessionIntake>();
  /** Per organization: whether it has an enabled endpoint, and until when that answer holds. */
  private readonly endpointsKnown = new Map<string, { has: Promise<boolean>; until: number }>();

  constructor(private readonly opts: WebhookServiceOptions) {
    this.worker = new DeliveryWorker(opts);
  }

  /** What the management API needs of the settings: the target policy and the rotation overlap. */
  get settings(): { allowPrivateTargets: boolean; secretOverlapMs: number } {
    return { allowPrivateTargets: this.opts.config.webhookAllowPrivateTargets, secretOverlapMs: this.opts.config.webhookSecretOverlapMs };
  }

  start(): void {
    this.worker.start();
  }

  /** Enqueues the model's session events while its session runs here; returns the stop. */
  follow(modelId: string, orgId: string, log: EventLog): () => Promise<void> {
    const intake = new SessionIntake({
      modelId,
      orgId,
      log,
      store: this.opts.store,
      logger: this.opts.logger,
      enqueued: () => this.worker.nudge(),
      hasEndpoints: () => this.hasEndpoints(orgId),
    });
    this.intakes.add(intake);
    return async () => {
      this.intakes.delete(intake);
      await intake.stop();
    };
  }

  /** Asks the store at most once per ENDPOINTS_RECHECK_MS per organization (every model of it shares the answer). */
  private hasEndpoints(orgId: string): Promise<boolean> {
    const now = Date.now();
    const known = this.endpointsKnown.get(orgId);
    if (known !== undefined && known.until > now) return known.has;
    const has = this.opts.store.hasEnabledEndpoints(orgId).catch((err: unknown) => {
      this.endpointsKnown.delete(orgId);
      throw err; // the intake retries after RETRY_MS
    });
    if (this.endpointsKnown.size > 10_000) this.endpointsKnown.clear();
    this.endpointsKnown.set(orgId, { has, until: now + ENDPOINTS_RECHECK_MS });
    return has;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.intakes].map((i) => i.stop()));
    this.intakes.clear();
    await this.worker.stop();
  }
}
