/**
 * The delivery worker, one per node: claims due deliveries from the store (one node at a time
 * per delivery, for a lease), sends each, records the attempt and decides what comes next —
 * delivered on a 2xx; `410 Gone` fails it and disables the endpoint; anything else retries on
 * `webhookRetrySchedule` and fails after its last delay. A node killed mid-send leaves claims
 * that run out after the lease, and another node sends them again: at least once.
 */
import type { GatewayConfig } from '../config.js';
import { webhookAttempted } from '../diagnostics.js';
import type { Logger } from '../log.js';
import type { AttemptOutcome, ClaimedDelivery, WebhookStore } from '../store/webhook-types.js';
import { sendWebhook, type AttemptResult } from './sender.js';
import { signatureHeaders } from './signing.js';
import type { Resolver } from './target-policy.js';

/** How often an idle worker looks for due deliveries; new local ones nudge it sooner. */
export const POLL_INTERVAL_MS = 1000;
/** Deliveries claimed and sent at once by one node: bounds its sockets and memory. */
export const CLAIM_BATCH = 20;
/** Time beyond the attempt timeout before a claim is free again (a killed node's, a slow record). */
const LEASE_MARGIN_MS = 10_000;

export interface WorkerOptions {
  store: WebhookStore;
  nodeId: string;
  config: Pick<GatewayConfig, 'webhookRetrySchedule' | 'webhookTimeoutMs' | 'webhookAllowPrivateTargets'>;
  logger: Logger;
  /** DNS for the SSRF check; the system's by default. */
  resolve?: Resolver;
}

/** What an attempt's result means for its delivery (`attempts`: made before this one). */
export function outcomeOf(result: Pick<AttemptResult, 'statusCode'>, attempts: number, schedule: readonly number[], now: number): AttemptOutcome {
  const status = result.statusCode;
  if (status !== null && status >= 200 && status < 300) return { status: 'delivered' };
  if (status === 410) return { status: 'failed', disableEndpoint: 'the receiver answered 410 Gone' };
  const delay = schedule[attempts];
  if (delay === undefined) return { status: 'failed' };
  return { status: 'pending', nextAttemptAt: new Date(now + delay).toISOString() };
}

export class DeliveryWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  /** Attempts made by this node, for metrics and tests. */
  attempted = 0;

  constructor(private readonly opts: WorkerOptions) {}

  start(): void {
    this.stopped = false;
    this.nudge();
  }

  /** Looks for due deliveries now (something was just enqueued). */
  nudge(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.rounds().finally(() => {
      this.running = undefined;
      if (!this.stopped) this.timer = setTimeout(() => this.nudge(), this.again ? 0 : POLL_INTERVAL_MS);
      this.again = false;
    });
  }

  /** Stops claiming; resolves when the attempts in flight are recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Claims and sends batches until none is full (a backlog drains without waiting for polls). */
  private async rounds(): Promise<void> {
    const { store, nodeId, config, logger } = this.opts;
    for (let round = 0; !this.stopped && round < 50; round++) {
      let claimed: ClaimedDelivery[];
      try {
        claimed = await store.claimDue(nodeId, CLAIM_BATCH, config.webhookTimeoutMs + LEASE_MARGIN_MS);
      } catch (err) {
        logger.warn({ error: (err as Error).message }, 'claiming webhook deliveries failed; trying again shortly');
        return;
      }
      await Promise.all(claimed.map((d) => this.attempt(d)));
      if (claimed.length < CLAIM_BATCH) return;
    }
    this.again = true;
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const { store, nodeId, config, logger } = this.opts;
    const at = new Date();
    const result = await sendWebhook(delivery.url, delivery.payload, signatureHeaders(delivery.id, at, delivery.payload, delivery.secrets), {
      timeoutMs: config.webhookTimeoutMs,
      allowPrivate: config.webhookAllowPrivateTargets,
      ...(this.opts.resolve ? { resolve: this.opts.resolve } : {}),
    });
    this.attempted++;
    const outcome = outcomeOf(result, delivery.attempts, config.webhookRetrySchedule, Date.now());
    try {
      await store.recordAttempt(delivery.id, nodeId, { at: at.toISOString(), statusCode: result.statusCode, error: result.error, latencyMs: result.latencyMs }, outcome);
    } catch (err) {
      // The claim runs out and the delivery is sent again: at least once, never lost.
      logger.warn({ deliveryId: delivery.id, error: (err as Error).message }, 'recording a webhook attempt failed');
      return;
    }
    if (webhookAttempted.hasSubscribers) webhookAttempted.publish({ result: outcome.status === 'pending' ? 'retrying' : outcome.status });
    const fields = { deliveryId: delivery.id, endpointId: delivery.endpointId, type: delivery.type, statusCode: result.statusCode, latencyMs: result.latencyMs };
    if (outcome.status === 'delivered') logger.debug(fields, 'webhook delivered');
    else if (outcome.status === 'pending') logger.info({ ...fields, error: result.error, nextAttemptAt: outcome.nextAttemptAt }, 'webhook attempt failed; retrying later');
    else logger.warn({ ...fields, error: result.error, endpointDisabled: outcome.disableEndpoint !== undefined }, 'webhook delivery failed for good');
  }
}
