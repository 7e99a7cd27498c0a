/** Organizations and their subscription: create, rename, delete (with everything it owns). */
import { z } from 'zod';
import { SUBSCRIPTION_STATUSES, type Organization, type Store } from '../store/types.js';
import { ApiError } from './http.js';
import { defineRoute, type Route } from './router.js';
import { deletedOrganizationSchema, organizationSchema, subscriptionSchema } from './schemas.js';

/** The organization, or NOT_FOUND naming the id. */
export async function requireOrganization(store: Store, id: string): Promise<Organization> {
  const org = await store.getOrganization(id);
  if (!org) throw new ApiError('NOT_FOUND', `Organization ${id} not found`);
  return org;
}

const subscriptionStatus = z.enum(SUBSCRIPTION_STATUSES as [string, ...string[]]);

export const organizationRoutes: Route[] = [
  defineRoute({
    method: 'POST',
    path: '/organizations',
    summary: 'Create an organization',
    body: z.object({ name: z.string() }).strict(),
    success: { status: 201, description: 'The organization', schema: organizationSchema },
    errors: ['INVALID_INPUT'],
    async handler({ store, body }) {
      return { status: 201, body: await store.createOrganization({ name: body.name }) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/organizations',
    summary: 'List organizations',
    success: { status: 200, description: 'Every organization, oldest first', schema: z.array(organizationSchema) },
    errors: [],
    async handler({ store }) {
      return { status: 200, body: await store.listOrganizations() };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/organizations/{id}',
    summary: 'Show an organization',
    success: { status: 200, description: 'The organization', schema: organizationSchema },
    errors: ['NOT_FOUND'],
    async handler({ store, params }) {
      return { status: 200, body: await requireOrganization(store, params.id ?? '') };
    },
  }),
  defineRoute({
    method: 'PATCH',
    path: '/organizations/{id}',
    summary: 'Rename an organization (the audit trail keeps the old name)',
    body: z.object({ name: z.string() }).strict(),
    success: { status: 200, description: 'The organization', schema: organizationSchema },
    errors: ['NOT_FOUND', 'INVALID_INPUT'],
    async handler({ store, params, body }) {
      return { status: 200, body: await store.renameOrganization(params.id ?? '', body.name) };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/organizations/{id}',
    summary:
      'Delete an organization with its subscription, API keys and models (their lifecycle and audit trails stay); its live relays close with INVALID_API_KEY',
    success: { status: 200, description: 'What was deleted', schema: deletedOrganizationSchema },
    errors: ['NOT_FOUND'],
    async handler({ store, params }) {
      return { status: 200, body: await store.deleteOrganization(params.id ?? '') };
    },
  }),
  defineRoute({
    method: 'PUT',
    path: '/organizations/{id}/subscription',
    summary: "Create or replace the organization's subscription (canceled closes its live relays)",
    body: z.object({ status: subscriptionStatus, plan: z.string().nullable().optional() }).strict(),
    success: { status: 200, description: 'The subscription', schema: subscriptionSchema },
    errors: ['NOT_FOUND', 'INVALID_INPUT'],
    async handler({ store, params, body }) {
      const status = body.status === 'active' ? 'active' : 'canceled';
      return { status: 200, body: await store.setSubscription(params.id ?? '', { status, plan: body.plan ?? null }) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/organizations/{id}/subscription',
    summary: "Show the organization's subscription (status \"none\" when it never had one)",
    success: { status: 200, description: 'The subscription', schema: subscriptionSchema },
    errors: ['NOT_FOUND'],
    async handler({ store, params }) {
      const org = await requireOrganization(store, params.id ?? '');
      return { status: 200, body: (await store.getSubscription(org.id)) ?? { orgId: org.id, status: 'none', plan: null } };
    },
  }),
];
