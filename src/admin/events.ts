/**
 * The audit trail across models: every model's lifecycle events (or one organization's),
 * newest first, paged with `before` (the `seq` of the last event of the previous page).
 */
import { z } from 'zod';
import { MAX_EVENTS_PAGE } from '../store/validation.js';
import { defineRoute, type Route } from './router.js';
import { modelEventSchema } from './schemas.js';

export const eventRoutes: Route[] = [
  defineRoute({
    method: 'GET',
    path: '/events',
    summary: "Every model's lifecycle events (the audit trail), newest first; orgId narrows to one organization, before pages back",
    query: z
      .object({
        orgId: z.string().optional(),
        limit: z.coerce.number().int().min(1).max(MAX_EVENTS_PAGE).optional(),
        before: z.coerce.number().int().min(1).optional().describe('Only events with a smaller seq: the last seq of the previous page'),
      })
      .strict(),
    success: { status: 200, description: 'The events, newest first', schema: z.array(modelEventSchema) },
    errors: ['INVALID_INPUT'],
    async handler({ gateway, query }) {
      return { status: 200, body: await gateway.store.listModelEventsAll({ orgId: query.orgId, limit: query.limit, before: query.before }) };
    },
  }),
];
