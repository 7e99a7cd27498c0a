/**
 * API keys. The plaintext key is in the answer of create and rotate only; revocation (and
 * the end of a rotation's grace period) reaches live relays through the gateway's change feed.
 */
import { z } from 'zod';
import { MAX_GRACE_SECONDS } from '../store/types.js';
import { requireOrganization } from './organizations.js';
import { defineRoute, type Route } from './router.js';
import { apiKeySchema, createdApiKeySchema, rotatedApiKeySchema } from './schemas.js';

const NO_BODY = z.object({}).strict();

export const keyRoutes: Route[] = [
  defineRoute({
    method: 'POST',
    path: '/organizations/{id}/keys',
    summary: 'Create an API key (the key is in this answer only)',
    body: z.object({ name: z.string().nullable().optional(), expiresAt: z.string().nullable().optional() }).strict(),
    success: { status: 201, description: 'The key record plus `key`, shown once', schema: createdApiKeySchema },
    errors: ['NOT_FOUND', 'INVALID_INPUT'],
    async handler({ store, params, body }) {
      const created = await store.createApiKey(params.id ?? '', { name: body.name ?? null, expiresAt: body.expiresAt ?? null });
      return { status: 201, body: created };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/organizations/{id}/keys',
    summary: "List the organization's API keys (prefixes only)",
    success: { status: 200, description: 'The key records', schema: z.array(apiKeySchema) },
    errors: ['NOT_FOUND'],
    async handler({ store, params }) {
      const org = await requireOrganization(store, params.id ?? '');
      return { status: 200, body: await store.listApiKeys(org.id) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/keys/{keyId}/revoke',
    summary: "Revoke an API key (idempotent); its live relays close with INVALID_API_KEY",
    body: NO_BODY,
    success: { status: 200, description: 'The revoked key record', schema: apiKeySchema },
    errors: ['NOT_FOUND', 'INVALID_INPUT'],
    async handler({ store, params }) {
      return { status: 200, body: await store.revokeApiKey(params.keyId ?? '') };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/keys/{keyId}/rotate',
    summary:
      'Replace an API key in one step: a new key with the same name, organization and expiry; the old one stops working after graceSeconds (default 0: at once), and its live relays close then with INVALID_API_KEY',
    body: z
      .object({
        graceSeconds: z
          .number()
          .int()
          .min(0)
          .max(MAX_GRACE_SECONDS)
          .optional()
          .describe(`How long the old key keeps working, in seconds (at most ${MAX_GRACE_SECONDS}, 30 days)`),
      })
      .strict(),
    success: { status: 201, description: 'The new key record plus `key`, shown once', schema: rotatedApiKeySchema },
    errors: ['NOT_FOUND', 'CONFLICT', 'INVALID_INPUT'],
    async handler({ store, params, body }) {
      return { status: 201, body: await store.rotateApiKey(params.keyId ?? '', { graceSeconds: body.graceSeconds ?? 0 }) };
    },
  }),
];
