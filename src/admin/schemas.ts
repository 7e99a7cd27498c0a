/**
 * The shapes the management API answers with, as zod schemas: the OpenAPI document is
 * generated from them, and a test parses real answers with them (strictly), so the
 * document cannot describe fields the API does not send or miss ones it does.
 */
import { z } from 'zod';
import { WEBHOOK_DELIVERY_STATUSES } from '../store/webhook-types.js';
import { ACTOR_KINDS, AUDIT_ACTIONS, AUDIT_TARGET_KINDS, DELIVERY_MODES, MODEL_EVENT_KINDS, MODEL_STATUSES, SUBSCRIPTION_STATUSES } from '../store/types.js';

const timestamp = z.string().describe('ISO 8601, UTC');
const nullableTimestamp = timestamp.nullable();

export const organizationSchema = z
  .object({ id: z.string(), name: z.string(), sandbox: z.boolean(), createdAt: timestamp })
  .strict()
  .meta({ id: 'Organization' });

export const subscriptionSchema = z
  .union([
    z.object({ orgId: z.string(), status: z.enum(SUBSCRIPTION_STATUSES), plan: z.string().nullable(), createdAt: timestamp, updatedAt: timestamp }).strict(),
    z.object({ orgId: z.string(), status: z.literal('none'), plan: z.null() }).strict().describe('The organization never had a subscription'),
  ])
  .meta({ id: 'Subscription' });

const apiKeyFields = {
  id: z.string(),
  orgId: z.string(),
  name: z.string().nullable(),
  prefix: z.string().describe('The first characters of the key, safe to show'),
  createdAt: timestamp,
  lastUsedAt: nullableTimestamp,
  revokedAt: nullableTimestamp,
  expiresAt: nullableTimestamp.describe('When it stops working by itself; after a rotation with a grace period, the end of the grace'),
  replacedBy: z.string().nullable().describe('The key that replaced it in a rotation'),
};

export const apiKeySchema = z.object(apiKeyFields).strict().meta({ id: 'ApiKey' });

export const createdApiKeySchema = z
  .object({ ...apiKeyFields, key: z.string().describe('The API key: shown in this answer only') })
  .strict()
  .meta({ id: 'CreatedApiKey' });

export const rotatedApiKeySchema = z
  .object({
    ...apiKeyFields,
    key: z.string().describe('The new API key: shown in this answer only'),
    replaces: z.string().describe("The old key's id"),
    graceEndsAt: timestamp.describe('When the old key stops working (now without a grace period)'),
  })
  .strict()
  .meta({ id: 'RotatedApiKey' });

export const modelSchema = z
  .object({
    id: z.string(),
    orgId: z.string(),
    name: z.string().nullable(),
    status: z.enum(MODEL_STATUSES),
    delivery: z.enum(DELIVERY_MODES).describe('relay: one OnlyFans socket per client connection; session: one socket kept open for the model and shared'),
    wsUrl: z.string().nullable(),
    hasWsToken: z.boolean(),
    userAgent: z.string().nullable(),
    hasCookie: z.boolean(),
    proxyUrl: z.string().nullable().describe('Any password replaced by ***'),
    credentialsRejectedAt: nullableTimestamp,
    credentialsRejectedReason: z.string().nullable(),
    createdAt: timestamp,
    updatedAt: timestamp,
    lastError: z
      .object({ at: timestamp, reason: z.string().nullable() })
      .strict()
      .nullable()
      .describe('When and why OnlyFans last refused the stored token; cleared by new credentials'),
  })
  .strict()
  .meta({ id: 'Model' });

export const modelEventSchema = z
  .object({ seq: z.number(), modelId: z.string(), orgId: z.string(), kind: z.enum(MODEL_EVENT_KINDS), reason: z.string().nullable(), at: timestamp })
  .strict()
  .meta({ id: 'ModelEvent' });

export const deletedOrganizationSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    deleted: z.literal(true),
    keys: z.number().int().describe('API keys deleted with it'),
    models: z.number().int().describe('Models removed with it'),
    subscription: z.enum([...SUBSCRIPTION_STATUSES, 'none']).describe('The subscription it had'),
  })
  .strict()
  .meta({ id: 'DeletedOrganization' });

export const auditEntrySchema = z
  .object({
    seq: z.number(),
    at: timestamp,
    actorKind: z.enum(ACTOR_KINDS).describe('cli (local), cli-remote (the CLI with --url), api (a Bearer token), dashboard (a session)'),
    actorDetail: z.string().nullable().describe('user@host for the CLI, the client IP, the session\'s short id'),
    action: z.enum(AUDIT_ACTIONS),
    orgId: z.string().nullable(),
    orgName: z.string().nullable().describe('The organization\'s name at the time'),
    targetKind: z.enum(AUDIT_TARGET_KINDS),
    targetId: z.string(),
    targetName: z.string().nullable().describe('The target\'s name at the time (a key: name and prefix)'),
    details: z.record(z.string(), z.unknown()).nullable().describe('Names, ids and counts; never a secret'),
  })
  .strict()
  .meta({ id: 'AuditEntry' });

export const relaySchema = z
  .object({
    id: z.string(),
    node: z.string().describe('The node holding the relay (see GET /nodes)'),
    orgId: z.string(),
    keyId: z.string(),
    modelId: z.string(),
    since: timestamp.describe('When the relay opened (or, while connecting, when it started)'),
    state: z.enum(['connecting', 'open', 'closing']),
    messagesToUpstream: z.number(),
    messagesToClient: z.number(),
    bytesToUpstream: z.number(),
    bytesToClient: z.number(),
  })
  .strict()
  .meta({ id: 'Relay' });

export const nodeSchema = z
  .object({
    id: z.string(),
    host: z.string(),
    pid: z.number().int(),
    address: z.string().describe('host:port it listens on'),
    version: z.string(),
    startedAt: timestamp,
    lastSeenAt: timestamp.describe('Its last heartbeat, by its own clock'),
    relays: z.number().int().describe('Live relays at its last heartbeat'),
    self: z.boolean().describe('True for the node that answered'),
  })
  .strict()
  .meta({ id: 'Node' });

export const closingRelaySchema = z.object({ id: z.string(), state: z.literal('closing') }).strict();

const webhookFields = {
  id: z.string(),
  orgId: z.string(),
  url: z.string(),
  events: z.array(z.string()).nullable().describe('Event types delivered (exact, prefix.* or *); null: every type'),
  models: z.array(z.string()).nullable().describe("Models whose events are delivered; null: every model of the organization"),
  enabled: z.boolean(),
  disabledReason: z.string().nullable().describe('Why it is disabled: by an operator, or the receiver answered 410 Gone'),
  previousSecretUntil: nullableTimestamp.describe('After a rotation: until when the previous secret signs too'),
  createdAt: timestamp,
  updatedAt: timestamp,
};

export const webhookSchema = z.object(webhookFields).strict().meta({ id: 'WebhookEndpoint' });

export const webhookWithSecretSchema = z
  .object({ ...webhookFields, secret: z.string().describe('The signing secret, whsec_<base64> (Standard Webhooks): shown in this answer only') })
  .strict()
  .meta({ id: 'WebhookEndpointWithSecret' });

export const webhookDeliverySchema = z
  .object({
    id: z.string().describe("The webhook-id (msg_…), the same on every attempt: the receiver's dedup key"),
    endpointId: z.string(),
    orgId: z.string(),
    modelId: z.string().nullable(),
    type: z.string().describe('onlyfans.<event key>, a lifecycle type, or webhook.test'),
    payload: z.string().describe('The JSON body sent'),
    status: z.enum(WEBHOOK_DELIVERY_STATUSES).describe('pending (due or retrying), delivered (a 2xx), failed (retries exhausted, 410, or a refused target at the last attempt)'),
    attempts: z.number().int(),
    nextAttemptAt: nullableTimestamp.describe('Null once delivered or failed'),
    lastStatusCode: z.number().int().nullable().describe("The receiver's last HTTP status; null when no answer came"),
    lastError: z.string().nullable(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .strict()
  .meta({ id: 'WebhookDelivery' });

export const webhookAttemptSchema = z
  .object({
    seq: z.number().int(),
    deliveryId: z.string(),
    node: z.string().describe('The node that made it'),
    at: timestamp,
    statusCode: z.number().int().nullable().describe("The receiver's HTTP status; null when no response came (refused target, timeout, connection error)"),
    error: z.string().nullable(),
    latencyMs: z.number().int(),
  })
  .strict()
  .meta({ id: 'WebhookAttempt' });

export const webhookDeliveryWithAttemptsSchema = webhookDeliverySchema
  .extend({ attemptLog: z.array(webhookAttemptSchema).describe('Every attempt, oldest first') })
  .strict()
  .meta({ id: 'WebhookDeliveryWithAttempts' });

/** The OpenAPI document itself: described loosely. */
export const documentSchema = z.record(z.string(), z.unknown());

const count = z.number().int().min(0);
const webhookCountsSchema = z
  .object({ delivered: count, retrying: count, failed: count })
  .strict()
  .describe('Webhook delivery attempts by result: delivered (2xx), retrying (failed, another attempt scheduled), failed (given up or endpoint disabled)');
const attemptsSchema = z.record(z.string(), count).describe('Finished connection attempts by outcome: ok, or the error or close outcome code (only outcomes that occurred)');

export const overviewSampleSchema = z
  .object({
    at: timestamp.describe('When the interval ended'),
    relays: count.describe('Customer connections with their own OnlyFans socket (relay mode) open at that time, all nodes'),
    sessionClients: count.describe('Clients attached to session-mode models at that time, all nodes'),
    events: count.describe('Upstream events appended to the event log during the interval'),
    eventsPerMinute: z.number().min(0).describe('events as a rate: events × 60000 / intervalMs'),
    attempts: attemptsSchema,
    upstreamFailures: count.describe('Attempts that ended because of OnlyFans (WS_CONNECT_ERROR, UPSTREAM_FAILED, UPSTREAM_CLOSED_ABNORMALLY)'),
    sessionReconnects: count.describe('Times model sessions reopened their OnlyFans socket'),
    webhooks: webhookCountsSchema,
  })
  .strict()
  .meta({ id: 'OverviewSample' });

export const overviewSchema = z
  .object({
    intervalMs: z.number().int().positive().describe('Time between samples (the overviewSampleMs setting of the answering node)'),
    nodes: z.array(z.string()).describe('The nodes whose samples are in the series'),
    missingNodes: z.array(z.string()).describe('Live nodes that did not answer within 1 s: their share is missing'),
    series: z.array(overviewSampleSchema).describe('Oldest first, at most 360 per node; every node ticks at the same wall-clock times and the nodes are added up'),
    totals: z
      .object({ attempts: attemptsSchema, events: count, upstreamFailures: count, sessionReconnects: count, webhooks: webhookCountsSchema })
      .strict()
      .describe('The counters of the series added up over its whole window'),
    sessionModels: z
      .array(
        z
          .object({
            id: z.string(),
            orgId: z.string(),
            name: z.string().nullable(),
            status: z.enum(MODEL_STATUSES).describe('disconnected: the operator turned the model off, no session runs'),
            upstream: z.enum(['connected', 'reconnecting', 'down', 'not running']).describe("The session's OnlyFans socket now; not running: no node holds the session"),
            node: z.string().nullable().describe('The node holding the session'),
            clients: count.describe('Clients attached, all nodes'),
          })
          .strict(),
      )
      .describe('Every session-mode model, with its state now'),
  })
  .strict()
  .meta({ id: 'Overview' });
