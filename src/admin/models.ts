/**
 * Models: credentials in, never out. Answers carry presence flags (`hasWsToken`,
 * `hasCookie`) and the proxy URL with its password masked, as the store returns them.
 * Disconnecting or removing a model closes its live relays through the change feed.
 */
import { z } from 'zod';
import { DELIVERY_MODES, type ModelPatch, type ModelRecord, type Store } from '../store/types.js';
import { MAX_EVENTS_PAGE } from '../store/validation.js';
import { ApiError } from './http.js';
import { requireOrganization } from './organizations.js';
import { defineRoute, type Route } from './router.js';
import { modelEventSchema, modelSchema } from './schemas.js';

const credentials = {
  wsUrl: z.string(),
  wsToken: z.string(),
  userAgent: z.string().nullable().optional(),
  cookie: z.string().nullable().optional(),
  proxyUrl: z.string().nullable().optional(),
};

const delivery = z
  .enum(DELIVERY_MODES)
  .optional()
  .describe('relay (one OnlyFans socket per client connection) or session (one socket kept open for the model, shared by its clients); default relay');

const newModel = z.object({ ...credentials, name: z.string().nullable().optional(), delivery }).strict();
const credentialPatch = z
  .object({ ...credentials, wsUrl: credentials.wsUrl.optional(), wsToken: credentials.wsToken.optional() })
  .strict();
const modelPatch = credentialPatch.extend({ name: z.string().nullable().optional(), delivery }).strict();

/** A model as answered: the record plus its last upstream refusal as `lastError`. */
function modelView(model: ModelRecord): ModelRecord & { lastError: { at: string; reason: string | null } | null } {
  const lastError = model.credentialsRejectedAt ? { at: model.credentialsRejectedAt, reason: model.credentialsRejectedReason } : null;
  return { ...model, lastError };
}

async function requireModel(store: Store, id: string): Promise<ModelRecord> {
  const model = await store.getModel(id);
  if (!model) throw new ApiError('NOT_FOUND', `Model ${id} not found`);
  return model;
}

const isEmpty = (patch: ModelPatch): boolean => Object.values(patch).every((v) => v === undefined);

export const modelRoutes: Route[] = [
  defineRoute({
    method: 'POST',
    path: '/organizations/{id}/models',
    summary: 'Add a model (connected) with its OnlyFans socket credentials',
    body: newModel,
    success: { status: 201, description: 'The model, without secrets', schema: modelSchema },
    errors: ['NOT_FOUND', 'INVALID_INPUT'],
    async handler({ store, params, body }) {
      return { status: 201, body: modelView(await store.createModel(params.id ?? '', body)) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/organizations/{id}/models',
    summary: "List the organization's models",
    success: { status: 200, description: 'The models, without secrets', schema: z.array(modelSchema) },
    errors: ['NOT_FOUND'],
    async handler({ store, params }) {
      const org = await requireOrganization(store, params.id ?? '');
      return { status: 200, body: (await store.listModels(org.id)).map(modelView) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/models',
    summary: 'List every model, or one organization\'s with orgId',
    query: z.object({ orgId: z.string().optional() }).strict(),
    success: { status: 200, description: 'The models, without secrets', schema: z.array(modelSchema) },
    errors: ['INVALID_INPUT'],
    async handler({ store, query }) {
      return { status: 200, body: (await store.listModels(query.orgId)).map(modelView) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/models/{id}',
    summary: 'Show a model: status, last error (credentialsRejectedAt/Reason), masked proxy',
    success: { status: 200, description: 'The model, without secrets', schema: modelSchema },
    errors: ['NOT_FOUND'],
    async handler({ store, params }) {
      return { status: 200, body: modelView(await requireModel(store, params.id ?? '')) };
    },
  }),
  defineRoute({
    method: 'PATCH',
    path: '/models/{id}',
    summary: 'Change the name or delivery, or import credentials (null clears an optional field; new credentials clear a rejected token)',
    body: modelPatch,
    success: { status: 200, description: 'The model, without secrets', schema: modelSchema },
    errors: ['NOT_FOUND', 'INVALID_INPUT'],
    async handler({ store, params, body }) {
      if (isEmpty(body)) throw new ApiError('INVALID_INPUT', 'Invalid body: nothing to change (give wsUrl, wsToken, userAgent, cookie, proxyUrl, name or delivery)');
      return { status: 200, body: modelView(await store.updateModel(params.id ?? '', body)) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/models/{id}/connect',
    summary: 'Connect a model, storing the credentials given first (clears a rejected token)',
    body: credentialPatch,
    success: { status: 200, description: 'The model, without secrets', schema: modelSchema },
    errors: ['NOT_FOUND', 'INVALID_INPUT'],
    async handler({ store, params, body }) {
      const id = params.id ?? '';
      if (!isEmpty(body)) await store.updateModel(id, body);
      return { status: 200, body: modelView(await store.setModelStatus(id, 'connected')) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/models/{id}/disconnect',
    summary: 'Disconnect a model; its live relays close with MODEL_NOT_CONNECTED',
    body: z.object({}).strict(),
    success: { status: 200, description: 'The model, without secrets', schema: modelSchema },
    errors: ['NOT_FOUND', 'INVALID_INPUT'],
    async handler({ store, params }) {
      return { status: 200, body: modelView(await store.setModelStatus(params.id ?? '', 'disconnected')) };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/models/{id}',
    summary: 'Remove a model (its audit trail stays); its live relays close',
    success: { status: 204, description: 'Removed' },
    errors: ['NOT_FOUND'],
    async handler({ store, params }) {
      await store.removeModel(params.id ?? '');
      return { status: 204 };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/models/{id}/events',
    summary: "The model's lifecycle events (audit trail), newest first; kept after removal",
    query: z.object({ limit: z.coerce.number().int().min(1).max(MAX_EVENTS_PAGE).optional() }).strict(),
    success: { status: 200, description: 'The events', schema: z.array(modelEventSchema) },
    errors: ['NOT_FOUND', 'INVALID_INPUT'],
    async handler({ store, params, query }) {
      const id = params.id ?? '';
      const events = await store.listModelEvents(id, query.limit);
      // The trail outlives the model, so only "no events and no model" is unknown.
      if (events.length === 0) await requireModel(store, id);
      return { status: 200, body: events };
    },
  }),
];
