/**
 * API keys. The plaintext key is in the answer of create and rotate only; revocation (and
 * rotation's revocation) reaches live relays through the gateway's change feed.
 */
import { z } from 'zod';
import { ApiError } from './http.js';
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
    async handler({ gateway, params, body }) {
      const created = await gateway.store.createApiKey(params.id ?? '', { name: body.name ?? null, expiresAt: body.expiresAt ?? null });
      return { status: 201, body: created };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/organizations/{id}/keys',
    summary: "List the organization's API keys (prefixes only)",
    success: { status: 200, description: 'The key records', schema: z.array(apiKeySchema) },
    errors: ['NOT_FOUND'],
    async handler({ gateway, params }) {
      const org = await requireOrganization(gateway.store, params.id ?? '');
      return { status: 200, body: await gateway.store.listApiKeys(org.id) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/keys/{keyId}/revoke',
    summary: "Revoke an API key (idempotent); its live relays close with INVALID_API_KEY",
    body: NO_BODY,
    success: { status: 200, description: 'The revoked key record', schema: apiKeySchema },
    errors: ['NOT_FOUND', 'INVALID_INPUT'],
    async handler({ gateway, params }) {
      return { status: 200, body: await gateway.store.revokeApiKey(params.keyId ?? '') };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/keys/{keyId}/rotate',
    summary: 'Replace an API key: a new key with the same name and organization, the old one revoked',
    body: NO_BODY,
    success: { status: 201, description: 'The new key record plus `key`, shown once', schema: rotatedApiKeySchema },
    errors: ['NOT_FOUND', 'CONFLICT', 'INVALID_INPUT'],
    async handler({ gateway, params }) {
      const store = gateway.store;
      const old = await store.getApiKey(params.keyId ?? '');
      if (!old) throw new ApiError('NOT_FOUND', `API key ${params.keyId ?? ''} not found`);
      if (old.revokedAt) throw new ApiError('CONFLICT', `API key ${old.id} is already revoked: create a new key instead`);
      // Its replacement would carry the same past expiry, which the store refuses.
      if (old.expiresAt && Date.parse(old.expiresAt) <= Date.now()) throw new ApiError('CONFLICT', `API key ${old.id} has expired: create a new key instead`);
      // The new key exists before the old one stops working, so a failure in between
      // leaves the caller with a working key, never with none.
      const created = await store.createApiKey(old.orgId, { name: old.name, expiresAt: old.expiresAt });
      await store.revokeApiKey(old.id);
      return { status: 201, body: { ...created, replaces: old.id } };
    },
  }),
];
