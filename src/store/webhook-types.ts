/**
 * The store's webhook shapes (sessions-contract.md §6). An endpoint's signing secret is shown
 * once, when created or rotated; listings carry only whether a previous secret still signs.
 */

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';
export const WEBHOOK_DELIVERY_STATUSES: readonly WebhookDeliveryStatus[] = ['pending', 'delivered', 'failed'];

export interface WebhookEndpoint {
  id: string;
  orgId: string;
  url: string;
  /**
   * Event types delivered (`onlyfans.api2_chat_message`, `model.connected`; `onlyfans.*` for
   * every OnlyFans event); null: every type.
   */
  events: string[] | null;
  /** Models whose events are delivered; null: every model of the organization. */
  models: string[] | null;
  enabled: boolean;
  /** Why it was disabled (by an operator, or a receiver that answered 410 Gone). */
  disabledReason: string | null;
  /** While set and ahead, the previous secret signs too. */
  previousSecretUntil: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Returned by create and rotate: the only time the secret exists outside the store. */
export interface WebhookEndpointWithSecret extends WebhookEndpoint {
  /** `whsec_<base64>` (Standard Webhooks). */
  secret: string;
}

export interface NewWebhookEndpoint {
  url: string;
  events?: string[] | null;
  models?: string[] | null;
  enabled?: boolean;
}

/** Fields to change; `null` on a filter means "all", `undefined` leaves it alone. */
export interface WebhookEndpointPatch {
  url?: string;
  events?: string[] | null;
  models?: string[] | null;
  /** Re-enabling clears the disabled reason. */
  enabled?: boolean;
}

export interface WebhookDelivery {
  /** The `webhook-id` (`msg_…`): the receiver's dedup key, the same on every attempt. */
  id: string;
  endpointId: string;
  orgId: string;
  modelId: string | null;
  type: string;
  /** The JSON body sent. */
  payload: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  /** Null once delivered or failed. */
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A delivery a node has claimed to send, with what it needs to send it. */
export interface ClaimedDelivery extends WebhookDelivery {
  url: string;
  /** Every secret that signs now: the current one first, the previous one during an overlap. */
  secrets: string[];
  claimedUntil: string;
}

export interface WebhookAttempt {
  seq: number;
  deliveryId: string;
  /** The node that made it. */
  node: string;
  at: string;
  /** The receiver's HTTP status; null when no response came (refused, timeout, connection). */
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
}

/**
 * Something that may become deliveries, one per matching endpoint of the organization.
 * `key` identifies the event (`event:<model>:<eventId>`, `lifecycle:<seq>`): with the endpoint
 * it makes the webhook id, so the same event enqueued twice is one delivery.
 */
export interface WebhookEventInput {
  key: string;
  type: string;
  modelId: string | null;
  /** When it happened: endpoints created later do not get it. */
  occurredAt: string;
  payload: string;
}

/** What an attempt ended in, as the worker decided it. */
export type AttemptOutcome =
  | { status: 'delivered' }
  | { status: 'pending'; nextAttemptAt: string }
  | { status: 'failed'; disableEndpoint?: string };

export interface AttemptRecord {
  at: string;
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
}

export interface DeliveriesQuery {
  status?: WebhookDeliveryStatus | undefined;
  /** At most this many (default 50, at most 1000), newest first (those of one millisecond in no set order). */
  limit?: number | undefined;
  /** Only deliveries created before this one (its id): the next page. */
  before?: string | undefined;
}

/** Webhook endpoints and their deliveries, kept beside the rest of the store. */
export interface WebhookStore {
  /** Creates an endpoint with a new secret, returned once. */
  createEndpoint(orgId: string, input: NewWebhookEndpoint): Promise<WebhookEndpointWithSecret>;
  getEndpoint(id: string): Promise<WebhookEndpoint | undefined>;
  /** One organization's endpoints, or every endpoint. */
  listEndpoints(orgId?: string): Promise<WebhookEndpoint[]>;
  updateEndpoint(id: string, patch: WebhookEndpointPatch): Promise<WebhookEndpoint>;
  /** Removes the endpoint with its deliveries and their attempts. */
  removeEndpoint(id: string): Promise<void>;
  /**
   * A new secret, returned once; the old one keeps signing for `overlapMs` (the
   * `webhookSecretOverlapMs` setting; 0: it stops at once).
   */
  rotateSecret(id: string, overlapMs: number): Promise<WebhookEndpointWithSecret>;
  /** Stops deliveries to the endpoint (pending ones wait until it is enabled again). */
  disableEndpoint(id: string, reason: string): Promise<WebhookEndpoint>;

  /**
   * Enqueues each event for every enabled endpoint of the organization whose filters match
   * and which existed when it happened; idempotent per (endpoint, event). With `cursor`, the
   * model's intake cursor moves to its event id in the same transaction.
   * @returns the deliveries created (those enqueued before are not counted).
   */
  enqueue(orgId: string, events: readonly WebhookEventInput[], cursor?: { modelId: string; eventId: string }): Promise<number>;
  /** A `webhook.test` delivery to one endpoint, whatever its filters. */
  enqueueTest(endpointId: string): Promise<WebhookDelivery>;
  /** Whether the organization has an enabled endpoint (one that could take a session event). */
  hasEnabledEndpoints(orgId: string): Promise<boolean>;
  /** The newest session event id of the model already enqueued, if any. */
  intakeCursor(modelId: string): Promise<string | undefined>;

  /**
   * Claims up to `limit` pending deliveries that are due, of enabled endpoints, not claimed by
   * a node whose claim still runs, for `leaseMs`. One node at a time: PostgreSQL skips rows
   * another claim has locked; SQLite has one writer.
   */
  claimDue(node: string, limit: number, leaseMs: number): Promise<ClaimedDelivery[]>;
  /**
   * Records an attempt and, while `node` still holds the claim, its outcome (an expired claim
   * may have been taken by another node, whose outcome counts instead).
   */
  recordAttempt(deliveryId: string, node: string, attempt: AttemptRecord, outcome: AttemptOutcome): Promise<void>;
  getDelivery(id: string): Promise<WebhookDelivery | undefined>;
  listDeliveries(endpointId: string, query?: DeliveriesQuery): Promise<WebhookDelivery[]>;
  /** The delivery's attempts, oldest first. */
  listAttempts(deliveryId: string): Promise<WebhookAttempt[]>;
  /** Sends the delivery again (same webhook id) with a fresh retry schedule. */
  redeliver(deliveryId: string): Promise<WebhookDelivery>;
}
