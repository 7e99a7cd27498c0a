/**
 * `ofgw webhook …`: webhook endpoints and their delivery log (sessions-contract.md §6), on
 * the local store (`--db`, OFGW_DB) or, with `--admin-url` or OFGW_ADMIN_URL, through a running
 * gateway's management API. Here `--url` is the endpoint's URL, as the contract spells the
 * command, so remote mode has its own flag. Both modes parse the same options and print the
 * same shapes; only the {@link WebhookBackend} differs.
 */
import { loadConfig } from '../../config.js';
import { openStore } from '../../store/index.js';
import { notFound, requireId } from '../../store/validation.js';
import {
  WEBHOOK_DELIVERY_STATUSES,
  type DeliveriesQuery,
  type WebhookAttempt,
  type WebhookDelivery,
  type WebhookDeliveryStatus,
  type WebhookEndpoint,
  type WebhookEndpointPatch,
  type WebhookEndpointWithSecret,
  type NewWebhookEndpoint,
} from '../../store/webhook-types.js';
import { requireAllowedEndpointUrl } from '../../webhooks/target-policy.js';
import { noPositionals, onePositional, parse, required, UsageError, type OptionSpec } from '../args.js';
import { wantsAdminUrl } from '../urls.js';
import { eventLimit, type CommandResult } from './record-fields.js';
import { withStore } from './records.js';
import { AdminClient, id } from './remote.js';

type DeliveryWithAttempts = WebhookDelivery & { attemptLog: WebhookAttempt[] };

/** What a webhook command does, locally or remotely. */
interface WebhookBackend {
  add(orgId: string, input: NewWebhookEndpoint): Promise<WebhookEndpointWithSecret>;
  list(orgId: string | undefined): Promise<WebhookEndpoint[]>;
  show(endpointId: string): Promise<WebhookEndpoint>;
  update(endpointId: string, patch: WebhookEndpointPatch): Promise<WebhookEndpoint>;
  remove(endpointId: string): Promise<void>;
  rotateSecret(endpointId: string): Promise<WebhookEndpointWithSecret>;
  test(endpointId: string): Promise<WebhookDelivery>;
  deliveries(endpointId: string, query: DeliveriesQuery): Promise<WebhookDelivery[]>;
  delivery(deliveryId: string): Promise<DeliveryWithAttempts>;
  redeliver(deliveryId: string): Promise<WebhookDelivery>;
}

const ADMIN_URL_FLAG = '--admin-url';
const REMOTE_OPTION = { 'admin-url': { type: 'string' } } as const satisfies OptionSpec;

export const WEBHOOK_COLUMNS = ['id', 'orgId', 'url', 'enabled', 'events', 'models', 'disabledReason'];
export const DELIVERY_COLUMNS = ['id', 'type', 'status', 'attempts', 'lastStatusCode', 'lastError', 'nextAttemptAt', 'createdAt'];

/**
 * The settings local mode needs, from OFGW_* variables (and OFGW_CONFIG's file) as `serve`
 * reads them: the target policy and the rotation overlap. Remote mode uses the gateway's own.
 */
function localSettings(): { allowPrivateTargets: boolean; secretOverlapMs: number } {
  const config = loadConfig({}, process.env);
  return { allowPrivateTargets: config.webhookAllowPrivateTargets, secretOverlapMs: config.webhookSecretOverlapMs };
}

/** The store's endpoint, or its NOT_FOUND (a malformed id is not echoed). */
async function endpointOf(found: Promise<WebhookEndpoint | undefined>, endpointId: string): Promise<WebhookEndpoint> {
  const endpoint = await found;
  if (endpoint === undefined) throw notFound('webhook endpoint', requireId('webhook endpoint', endpointId));
  return endpoint;
}

function localBackend(db: string | undefined): WebhookBackend {
  const run = <T>(fn: Parameters<typeof withStore<T>>[1]): Promise<T> => withStore(db, fn);
  return {
    add: (orgId, input) =>
      run((s) => {
        requireAllowedEndpointUrl(input.url, localSettings().allowPrivateTargets);
        return s.webhooks.createEndpoint(orgId, input);
      }),
    list: (orgId) =>
      run(async (s) => {
        if (orgId !== undefined && (await s.getOrganization(orgId)) === undefined) throw notFound('organization', requireId('organization', orgId));
        return s.webhooks.listEndpoints(orgId);
      }),
    show: (endpointId) => run((s) => endpointOf(s.webhooks.getEndpoint(endpointId), endpointId)),
    update: (endpointId, patch) =>
      run((s) => {
        requireAllowedEndpointUrl(patch.url, localSettings().allowPrivateTargets);
        return s.webhooks.updateEndpoint(endpointId, patch);
      }),
    remove: (endpointId) => run((s) => s.webhooks.removeEndpoint(endpointId)),
    rotateSecret: (endpointId) => run((s) => s.webhooks.rotateSecret(endpointId, localSettings().secretOverlapMs)),
    // A gateway serving this store sends it at its worker's next poll.
    test: (endpointId) => run((s) => s.webhooks.enqueueTest(endpointId)),
    deliveries: (endpointId, query) =>
      run(async (s) => {
        const endpoint = await endpointOf(s.webhooks.getEndpoint(endpointId), endpointId);
        return s.webhooks.listDeliveries(endpoint.id, query);
      }),
    delivery: (deliveryId) =>
      run(async (s) => {
        const delivery = await s.webhooks.getDelivery(deliveryId);
        if (delivery === undefined) throw notFound('webhook delivery', deliveryId.slice(0, 40));
        return { ...delivery, attemptLog: await s.webhooks.listAttempts(delivery.id) };
      }),
    redeliver: (deliveryId) => run((s) => s.webhooks.redeliver(deliveryId)),
  };
}

function remoteBackend(api: AdminClient): WebhookBackend {
  return {
    add: (orgId, input) => api.call('POST', `/organizations/${id(orgId)}/webhooks`, input),
    list: (orgId) => api.call('GET', orgId === undefined ? '/webhooks' : `/organizations/${id(orgId)}/webhooks`),
    show: (endpointId) => api.call('GET', `/webhooks/${id(endpointId)}`),
    update: (endpointId, patch) => api.call('PATCH', `/webhooks/${id(endpointId)}`, patch),
    remove: (endpointId) => api.call('DELETE', `/webhooks/${id(endpointId)}`),
    rotateSecret: (endpointId) => api.call('POST', `/webhooks/${id(endpointId)}/rotate-secret`, {}),
    test: (endpointId) => api.call('POST', `/webhooks/${id(endpointId)}/test`, {}),
    deliveries: (endpointId, query) => {
      const search = new URLSearchParams();
      for (const [name, value] of Object.entries(query)) if (value !== undefined) search.set(name, String(value));
      const text = search.toString();
      return api.call('GET', `/webhooks/${id(endpointId)}/deliveries${text === '' ? '' : `?${text}`}`);
    },
    delivery: (deliveryId) => api.call('GET', `/deliveries/${id(deliveryId)}`),
    redeliver: (deliveryId) => api.call('POST', `/deliveries/${id(deliveryId)}/redeliver`, {}),
  };
}

/** Parses the command's options and picks the backend: remote with `--admin-url` or OFGW_ADMIN_URL (and no `--db`). */
function command<O extends OptionSpec>(argv: string[], options: O, name: string) {
  const parsed = parse(argv, { ...options, ...REMOTE_OPTION }, name);
  const adminUrl = parsed.values['admin-url'] as string | undefined;
  const db = parsed.values.db as string | undefined;
  if (!wantsAdminUrl(argv, ADMIN_URL_FLAG)) return { ...parsed, backend: localBackend(db) };
  if (db !== undefined) throw new UsageError(`${name}: give ${ADMIN_URL_FLAG} or --db, not both`);
  return { ...parsed, backend: remoteBackend(new AdminClient(adminUrl, name, ADMIN_URL_FLAG)) };
}

/**
 * `--events a,b` / `--models x,y`: a list; `""` means every one (null). Absent: undefined.
 * Entries are checked by the store, which names them (`--events entry 2 …`).
 */
function listFlag(value: string | undefined): string[] | null | undefined {
  if (value === undefined) return undefined;
  const entries = value.split(',').map((e) => e.trim()).filter((e) => e !== '');
  return entries.length === 0 ? null : entries;
}

function enabledFlag(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value !== 'true' && value !== 'false') throw new UsageError(`${name}: --enabled must be true or false (got "${value}")`);
  return value === 'true';
}

function statusFlag(value: string | undefined, name: string): WebhookDeliveryStatus | undefined {
  if (value === undefined) return undefined;
  if (!(WEBHOOK_DELIVERY_STATUSES as readonly string[]).includes(value)) {
    throw new UsageError(`${name}: --status must be one of ${WEBHOOK_DELIVERY_STATUSES.join(', ')} (got "${value}")`);
  }
  return value as WebhookDeliveryStatus;
}

/** Human form of a delivery's attempts: one line each, oldest first. */
function attemptLines(attempts: WebhookAttempt[]): string {
  if (attempts.length === 0) return '(none yet)';
  return attempts.map((a) => `\n  ${a.at}  ${a.statusCode ?? '---'}  ${a.latencyMs} ms  ${a.node}  ${a.error ?? ''}`.trimEnd()).join('');
}

const FILTERS = { events: { type: 'string' }, models: { type: 'string' } } as const satisfies OptionSpec;

export const NOTHING_TO_UPDATE_WEBHOOK = 'webhook update: nothing to change (give --url, --events, --models or --enabled)';

type Handler = (argv: string[]) => Promise<CommandResult>;

export const WEBHOOK_COMMANDS: Record<string, Handler> = {
  async add(argv) {
    const { values, positionals, backend } = command(argv, { org: { type: 'string' }, url: { type: 'string' }, ...FILTERS }, 'webhook add');
    noPositionals(positionals, 'webhook add');
    const org = required(values.org, '--org', 'webhook add');
    const url = required(values.url, '--url', 'webhook add');
    const input: NewWebhookEndpoint = { url, events: listFlag(values.events) ?? null, models: listFlag(values.models) ?? null };
    return { result: await backend.add(org, input) };
  },
  async list(argv) {
    const { values, positionals, backend } = command(argv, { org: { type: 'string' } }, 'webhook list');
    noPositionals(positionals, 'webhook list');
    return { result: await backend.list(values.org), columns: WEBHOOK_COLUMNS };
  },
  async show(argv) {
    const { positionals, backend } = command(argv, {}, 'webhook show');
    return { result: await backend.show(onePositional(positionals, 'WEBHOOK_ID', 'webhook show')) };
  },
  async update(argv) {
    const { values, positionals, backend } = command(argv, { url: { type: 'string' }, enabled: { type: 'string' }, ...FILTERS }, 'webhook update');
    const endpointId = onePositional(positionals, 'WEBHOOK_ID', 'webhook update');
    const patch: WebhookEndpointPatch = {};
    if (values.url !== undefined) patch.url = values.url;
    const events = listFlag(values.events);
    if (events !== undefined) patch.events = events;
    const models = listFlag(values.models);
    if (models !== undefined) patch.models = models;
    const enabled = enabledFlag(values.enabled, 'webhook update');
    if (enabled !== undefined) patch.enabled = enabled;
    if (Object.keys(patch).length === 0) throw new UsageError(NOTHING_TO_UPDATE_WEBHOOK);
    return { result: await backend.update(endpointId, patch) };
  },
  async remove(argv) {
    const { positionals, backend } = command(argv, {}, 'webhook remove');
    const endpointId = onePositional(positionals, 'WEBHOOK_ID', 'webhook remove');
    await backend.remove(endpointId);
    return { result: { id: endpointId, removed: true } };
  },
  async 'rotate-secret'(argv) {
    const { positionals, backend } = command(argv, {}, 'webhook rotate-secret');
    return { result: await backend.rotateSecret(onePositional(positionals, 'WEBHOOK_ID', 'webhook rotate-secret')) };
  },
  async test(argv) {
    const { positionals, backend } = command(argv, {}, 'webhook test');
    return { result: await backend.test(onePositional(positionals, 'WEBHOOK_ID', 'webhook test')) };
  },
  async deliveries(argv) {
    const { values, positionals, backend } = command(argv, { status: { type: 'string' }, limit: { type: 'string' }, before: { type: 'string' } }, 'webhook deliveries');
    const endpointId = onePositional(positionals, 'WEBHOOK_ID', 'webhook deliveries');
    const query: DeliveriesQuery = { status: statusFlag(values.status, 'webhook deliveries'), limit: eventLimit(values.limit, 'webhook deliveries'), before: values.before };
    return { result: await backend.deliveries(endpointId, query), columns: DELIVERY_COLUMNS };
  },
  async delivery(argv) {
    const { values, positionals, backend } = command(argv, {}, 'webhook delivery');
    const shown = await backend.delivery(onePositional(positionals, 'DELIVERY_ID', 'webhook delivery'));
    return { result: values.json ? shown : { ...shown, attemptLog: attemptLines(shown.attemptLog) } };
  },
  async redeliver(argv) {
    const { positionals, backend } = command(argv, {}, 'webhook redeliver');
    return { result: await backend.redeliver(onePositional(positionals, 'DELIVERY_ID', 'webhook redeliver')) };
  },
};
