/**
 * The two trails across records: the operator trail (`/events`: who changed what, from the
 * CLI, the API or the dashboard) and every model's lifecycle events (`/model-events`), both
 * newest first, paged with `before` (the `seq` of the last entry of the previous page).
 */
import { z } from 'zod';
import { ACTOR_KINDS, AUDIT_ACTIONS, AUDIT_TARGET_KINDS } from '../store/types.js';
import { MAX_EVENTS_PAGE } from '../store/validation.js';
import { defineRoute, type Route } from './router.js';
import { auditEntrySchema, modelEventSchema } from './schemas.js';

const limit = z.coerce.number().int().min(1).max(MAX_EVENTS_PAGE).optional();
const before = z.coerce.number().int().min(1).optional().describe('Only entries with a smaller seq: the last seq of the previous page');

export const eventRoutes: Route[] = [
  defineRoute({
    method: 'GET',
    path: '/events',
    summary:
      'The operator audit trail (organizations, subscriptions, keys, models, relay closes: who, when, what), newest first, filtered by organization, action, actor, target and time',
    query: z
      .object({
        orgId: z.string().optional(),
        action: z
          .enum([...AUDIT_ACTIONS, ...AUDIT_TARGET_KINDS])
          .optional()
          .describe('One action (key.rotated), or a target kind (key) for all of its actions'),
        actor: z.enum(ACTOR_KINDS).optional().describe('Who made the change: cli, cli-remote, api or dashboard'),
        targetId: z.string().optional().describe('The organization, key, model or relay id'),
        since: z.string().optional().describe('ISO 8601: entries at or after this time'),
        until: z.string().optional().describe('ISO 8601: entries before this time'),
        before,
        limit,
      })
      .strict(),
    success: { status: 200, description: 'The entries, newest first', schema: z.array(auditEntrySchema) },
    errors: ['INVALID_INPUT'],
    async handler({ store, query }) {
      const { actor, ...rest } = query;
      return { status: 200, body: await store.listAudit({ ...rest, actorKind: actor }) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/model-events',
    summary: "Every model's lifecycle events, newest first (GET /models/{id}/events for one model); orgId narrows to one organization",
    query: z.object({ orgId: z.string().optional(), limit, before }).strict(),
    success: { status: 200, description: 'The events, newest first', schema: z.array(modelEventSchema) },
    errors: ['INVALID_INPUT'],
    async handler({ store, query }) {
      return { status: 200, body: await store.listModelEventsAll({ orgId: query.orgId, limit: query.limit, before: query.before }) };
    },
  }),
];
