/**
 * Webhook endpoints and their delivery log (sessions-contract.md §6). The signing secret is in
 * the answers of create and rotate-secret only. URLs are held to the target policy when they
 * are registered too (https, no localhost or literal private address unless
 * webhookAllowPrivateTargets), so a mistake is refused now rather than failing every delivery.
 */
import { z } from 'zod';
import type { Gateway } from '../gateway/server.js';
import type { Store } from '../store/types.js';
import { WEBHOOK_DELIVERY_STATUSES, type WebhookDelivery, type WebhookEndpoint } from '../store/webhook-types.js';
import { requireAllowedEndpointUrl } from '../webhooks/target-policy.js';
import { ApiError } from './http.js';
import { requireOrganization } from './organizations.js';
import { defineRoute, type Route } from './router.js';
import { webhookDeliverySchema, webhookDeliveryWithAttemptsSchema, webhookSchema, webhookWithSecretSchema } from './schemas.js';

const NO_BODY = z.object({}).strict();
const MAX_PAGE = 1000;

const events = z
  .array(z.string())
  .nullable()
  .optional()
  .describe('Event types to deliver: exact (onlyfans.api2_chat_message, model.connected), a family (onlyfans.*) or *; null or absent: every type');
const models = z.array(z.string()).nullable().optional().describe("Model ids whose events are delivered; null or absent: every model of the organization");
const url = z.string().describe('Where deliveries are POSTed: https, on a public host (http and private or loopback hosts need webhookAllowPrivateTargets)');

const newEndpoint = z.object({ url, events, models, enabled: z.boolean().optional().describe('Default true') }).strict();
const endpointPatch = z
  .object({ url: url.optional(), events, models, enabled: z.boolean().optional().describe('false stops deliveries (pending ones wait); true clears the disabled reason') })
  .strict();

async function requireEndpoint(store: Store, id: string): Promise<WebhookEndpoint> {
  const endpoint = await store.webhooks.getEndpoint(id);
  if (!endpoint) throw new ApiError('NOT_FOUND', `Webhook endpoint ${id} not found`);
  return endpoint;
}

async function requireDelivery(store: Store, id: string): Promise<WebhookDelivery> {
  const delivery = await store.webhooks.getDelivery(id);
  // Not echoed in full: a delivery id is short, a mistyped path may not be.
  if (!delivery) throw new ApiError('NOT_FOUND', `Webhook delivery ${id.slice(0, 40)} not found`);
  return delivery;
}

const allowPrivate = (gateway: Gateway): boolean => gateway.webhooks.settings.allowPrivateTargets;

export const webhookRoutes: Route[] = [
  defineRoute({
    method: 'POST',
    path: '/organizations/{id}/webhooks',
    summary: 'Add a webhook endpoint (its signing secret is in this answer only)',
    body: newEndpoint,
    success: { status: 201, description: 'The endpoint plus `secret`, shown once', schema: webhookWithSecretSchema },
    errors: ['NOT_FOUND', 'INVALID_INPUT'],
    async handler({ gateway, store, params, body }) {
      requireAllowedEndpointUrl(body.url, allowPrivate(gateway));
      return { status: 201, body: await store.webhooks.createEndpoint(params.id ?? '', body) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/organizations/{id}/webhooks',
    summary: "List the organization's webhook endpoints (no secrets)",
    success: { status: 200, description: 'The endpoints', schema: z.array(webhookSchema) },
    errors: ['NOT_FOUND'],
    async handler({ store, params }) {
      const org = await requireOrganization(store, params.id ?? '');
      return { status: 200, body: await store.webhooks.listEndpoints(org.id) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/webhooks',
    summary: "List every webhook endpoint, or one organization's with orgId",
    query: z.object({ orgId: z.string().optional() }).strict(),
    success: { status: 200, description: 'The endpoints', schema: z.array(webhookSchema) },
    errors: ['INVALID_INPUT'],
    async handler({ store, query }) {
      return { status: 200, body: await store.webhooks.listEndpoints(query.orgId) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/webhooks/{id}',
    summary: 'Show a webhook endpoint (no secret)',
    success: { status: 200, description: 'The endpoint', schema: webhookSchema },
    errors: ['NOT_FOUND'],
    async handler({ store, params }) {
      return { status: 200, body: await requireEndpoint(store, params.id ?? '') };
    },
  }),
  defineRoute({
    method: 'PATCH',
    path: '/webhooks/{id}',
    summary: 'Change the URL or filters (null: every type or model), or enable or disable the endpoint',
    body: endpointPatch,
    success: { status: 200, description: 'The endpoint', schema: webhookSchema },
    errors: ['NOT_FOUND', 'INVALID_INPUT'],
    async handler({ gateway, store, params, body }) {
      if (Object.values(body).every((v) => v === undefined)) throw new ApiError('INVALID_INPUT', 'Invalid body: nothing to change (give url, events, models or enabled)');
      requireAllowedEndpointUrl(body.url, allowPrivate(gateway));
      return { status: 200, body: await store.webhooks.updateEndpoint(params.id ?? '', body) };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/webhooks/{id}',
    summary: 'Remove a webhook endpoint with its delivery log',
    success: { status: 204, description: 'Removed' },
    errors: ['NOT_FOUND'],
    async handler({ store, params }) {
      await store.webhooks.removeEndpoint(params.id ?? '');
      return { status: 204 };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/webhooks/{id}/rotate-secret',
    summary: 'Replace the signing secret (the new one is in this answer only); the old one keeps signing beside it for webhookSecretOverlapMs',
    body: NO_BODY,
    success: { status: 200, description: 'The endpoint plus the new `secret`, shown once', schema: webhookWithSecretSchema },
    errors: ['NOT_FOUND', 'INVALID_INPUT'],
    async handler({ gateway, store, params }) {
      return { status: 200, body: await store.webhooks.rotateSecret(params.id ?? '', gateway.webhooks.settings.secretOverlapMs) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/webhooks/{id}/test',
    summary: 'Queue a webhook.test delivery to the endpoint, whatever its filters (a new webhook-id each time)',
    body: NO_BODY,
    success: { status: 202, description: 'The queued delivery', schema: webhookDeliverySchema },
    errors: ['NOT_FOUND', 'INVALID_INPUT'],
    async handler({ gateway, store, params }) {
      const delivery = await store.webhooks.enqueueTest(params.id ?? '');
      // Sent now rather than at the worker's next poll.
      gateway.webhooks.worker.nudge();
      return { status: 202, body: delivery };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/webhooks/{id}/deliveries',
    summary: "The endpoint's delivery log, newest first; page with before (the last delivery's id)",
    query: z
      .object({
        status: z.enum(WEBHOOK_DELIVERY_STATUSES).optional(),
        limit: z.coerce.number().int().min(1).max(MAX_PAGE).optional().describe(`Default 50, at most ${MAX_PAGE}`),
        before: z.string().optional().describe('Only deliveries older than this one (its id): the next page'),
      })
      .strict(),
    success: { status: 200, description: 'The deliveries', schema: z.array(webhookDeliverySchema) },
    errors: ['NOT_FOUND', 'INVALID_INPUT'],
    async handler({ store, params, query }) {
      const endpoint = await requireEndpoint(store, params.id ?? '');
      return { status: 200, body: await store.webhooks.listDeliveries(endpoint.id, query) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/deliveries/{id}',
    summary: 'Show a webhook delivery with every attempt (time, node, response code, latency, error)',
    success: { status: 200, description: 'The delivery and its attempts, oldest first', schema: webhookDeliveryWithAttemptsSchema },
    errors: ['NOT_FOUND'],
    async handler({ store, params }) {
      const delivery = await requireDelivery(store, params.id ?? '');
      return { status: 200, body: { ...delivery, attemptLog: await store.webhooks.listAttempts(delivery.id) } };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/deliveries/{id}/redeliver',
    summary: 'Send a delivery again (same webhook-id) with a fresh retry schedule',
    body: NO_BODY,
    success: { status: 200, description: 'The delivery, pending again', schema: webhookDeliverySchema },
    errors: ['NOT_FOUND', 'INVALID_INPUT'],
    async handler({ gateway, store, params }) {
      const delivery = await store.webhooks.redeliver(params.id ?? '');
      gateway.webhooks.worker.nudge();
      return { status: 200, body: delivery };
    },
  }),
];
