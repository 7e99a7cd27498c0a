/**
 * `ofgw org|subscription|key|model …`: the store's records from the command line. Each
 * command opens the store named by `--db` (or OFGW_DB), so it works on the same file as a
 * running `ofgw serve`, whose change feed then applies the change to live relays. With
 * `--url` they go through a running gateway's management API instead (remote.ts).
 */
import { openStore } from '../../store/index.js';
import { notFound, requireId } from '../../store/validation.js';
import { SUBSCRIPTION_STATUSES, type SubscriptionStatus } from '../../store/types.js';
import type { ModelEvent, ModelPatch, Store } from '../../store/types.js';
import { noPositionals, onePositional, parse, required, UsageError, type OptionSpec } from '../args.js';
import { localActor } from '../operator.js';
import {
  AUDIT_COLUMNS,
  AUDIT_OPTIONS,
  auditFilters,
  CREDENTIAL_FIELDS,
  deliveryArg,
  eventLimit,
  eventLines,
  EVENT_COLUMNS,
  graceSeconds,
  KEY_COLUMNS,
  MODEL_COLUMNS,
  MODEL_FIELDS,
  NOTHING_TO_UPDATE,
  openLocal,
  SHOWN_EVENTS,
  secretArg,
  type CommandResult,
} from './record-fields.js';
import { withRemote } from './remote.js';

type Handler = (argv: string[]) => Promise<CommandResult>;

/**
 * Runs `fn` on the store `--db` names, as the `cli` actor, so its changes are in the audit
 * trail. Only `create: true` (org create) may create the store; every other command refers to
 * records a new store cannot hold, so it says none is there.
 */
export async function withStore<T>(db: string | undefined, fn: (store: Store) => Promise<T>, { create = false } = {}): Promise<T> {
  const store = await openLocal(db, openStore, { create });
  try {
    return await fn(store.as(localActor()));
  } finally {
    await store.close();
  }
}

/** An empty string clears an optional field on update (`--cookie ""`). */
function optional(value: string | undefined): string | null | undefined {
  if (value === undefined) return undefined;
  return value === '' ? null : value;
}

/** The credential options of `model update` / `model connect` as a patch (unset ones left out). */
function credentialPatch(values: { [K in keyof typeof CREDENTIAL_FIELDS]?: string }): ModelPatch {
  return {
    wsUrl: values['ws-url'],
    wsToken: secretArg(values['ws-token']),
    userAgent: optional(values['user-agent']),
    cookie: optional(values.cookie),
    proxyUrl: optional(values.proxy),
  };
}

const isEmptyPatch = (patch: ModelPatch): boolean => Object.values(patch).every((v) => v === undefined);

/**
 * `found`, or the store's own NOT_FOUND for `id` (exit 1, as the management API answers 404):
 * a well-formed id is named, a malformed one is not echoed (it may be a pasted key).
 */
function orNotFound<T>(found: T | undefined, what: string, id: string): T {
  if (found === undefined) throw notFound(what, requireId(what, id));
  return found;
}

/** A listing filtered by organization refuses an unknown one, as the management API does. */
async function requireOrganization(store: Store, id: string): Promise<void> {
  orNotFound(await store.getOrganization(id), 'organization', id);
}

const LOCAL_COMMANDS: Record<string, Record<string, Handler>> = {
  org: {
    async create(argv) {
      const { values, positionals } = parse(argv, { name: { type: 'string' } }, 'org create');
      noPositionals(positionals, 'org create');
      const name = required(values.name, '--name', 'org create');
      return { result: await withStore(values.db, (s) => s.createOrganization({ name }), { create: true }) };
    },
    async list(argv) {
      const { values, positionals } = parse(argv, {}, 'org list');
      noPositionals(positionals, 'org list');
      return { result: (await withStore(values.db, (s) => s.listOrganizations())) };
    },
    async rename(argv) {
      const { values, positionals } = parse(argv, { name: { type: 'string' } }, 'org rename');
      const id = onePositional(positionals, 'ORG_ID', 'org rename');
      const name = required(values.name, '--name', 'org rename');
      return { result: await withStore(values.db, (s) => s.renameOrganization(id, name)) };
    },
    async delete(argv) {
      const { values, positionals } = parse(argv, {}, 'org delete');
      const id = onePositional(positionals, 'ORG_ID', 'org delete');
      return { result: await withStore(values.db, (s) => s.deleteOrganization(id)) };
    },
  },

  subscription: {
    async set(argv) {
      const { values, positionals } = parse(argv, { org: { type: 'string' }, status: { type: 'string' }, plan: { type: 'string' } }, 'subscription set');
      noPositionals(positionals, 'subscription set');
      const org = required(values.org, '--org', 'subscription set');
      const status = required(values.status, '--status', 'subscription set');
      if (!SUBSCRIPTION_STATUSES.includes(status as SubscriptionStatus)) {
        throw new UsageError(`subscription set: --status must be one of ${SUBSCRIPTION_STATUSES.join(', ')} (got "${status}")`);
      }
      const result = await withStore(values.db, (s) => s.setSubscription(org, { status: status as SubscriptionStatus, plan: values.plan ?? null }));
      return { result: result };
    },
    async show(argv) {
      const { values, positionals } = parse(argv, { org: { type: 'string' } }, 'subscription show');
      noPositionals(positionals, 'subscription show');
      const org = required(values.org, '--org', 'subscription show');
      const result = await withStore(values.db, async (s) => {
        await requireOrganization(s, org);
        return (await s.getSubscription(org)) ?? { orgId: org, status: 'none', plan: null };
      });
      return { result: result };
    },
  },

  key: {
    async create(argv) {
      const { values, positionals } = parse(argv, { org: { type: 'string' }, name: { type: 'string' }, 'expires-at': { type: 'string' } }, 'key create');
      noPositionals(positionals, 'key create');
      const org = required(values.org, '--org', 'key create');
      const result = await withStore(values.db, (s) => s.createApiKey(org, { name: values.name ?? null, expiresAt: values['expires-at'] ?? null }));
      return { result: result };
    },
    async list(argv) {
      const { values, positionals } = parse(argv, { org: { type: 'string' } }, 'key list');
      noPositionals(positionals, 'key list');
      const org = required(values.org, '--org', 'key list');
      const keys = await withStore(values.db, async (s) => {
        await requireOrganization(s, org);
        return s.listApiKeys(org);
      });
      return { result: keys, columns: KEY_COLUMNS };
    },
    async revoke(argv) {
      const { values, positionals } = parse(argv, {}, 'key revoke');
      const id = onePositional(positionals, 'KEY_ID', 'key revoke');
      return { result: (await withStore(values.db, (s) => s.revokeApiKey(id))) };
    },
    async rotate(argv) {
      const { values, positionals } = parse(argv, { grace: { type: 'string' } }, 'key rotate');
      const id = onePositional(positionals, 'KEY_ID', 'key rotate');
      const grace = graceSeconds(values.grace, 'key rotate');
      return { result: await withStore(values.db, (s) => s.rotateApiKey(id, { graceSeconds: grace })) };
    },
  },

  model: {
    async add(argv) {
      const { values, positionals } = parse(argv, { org: { type: 'string' }, ...MODEL_FIELDS }, 'model add');
      noPositionals(positionals, 'model add');
      const org = required(values.org, '--org', 'model add');
      const wsUrl = required(values['ws-url'], '--ws-url', 'model add');
      const delivery = deliveryArg(values.delivery, 'model add');
      const wsToken = required(secretArg(values['ws-token']), '--ws-token', 'model add');
      const result = await withStore(values.db, (s) =>
        s.createModel(org, {
          wsUrl,
          wsToken,
          name: values.name ?? null,
          userAgent: values['user-agent'] ?? null,
          cookie: values.cookie ?? null,
          proxyUrl: values.proxy ?? null,
          ...(delivery === undefined ? {} : { delivery }),
        }),
      );
      return { result: result };
    },
    async list(argv) {
      const { values, positionals } = parse(argv, { org: { type: 'string' } }, 'model list');
      noPositionals(positionals, 'model list');
      const org = values.org;
      const models = await withStore(values.db, async (s) => {
        if (org !== undefined) await requireOrganization(s, org);
        return s.listModels(org);
      });
      return { result: models, columns: MODEL_COLUMNS };
    },
    async show(argv) {
      const { values, positionals } = parse(argv, {}, 'model show');
      const id = onePositional(positionals, 'MODEL_ID', 'model show');
      const shown = await withStore(values.db, async (s) => {
        const model = orNotFound(await s.getModel(id), 'model', id);
        return { ...model, events: await s.listModelEvents(model.id, SHOWN_EVENTS) };
      });
      return { result: values.json ? shown : { ...shown, events: eventLines(shown.events) } };
    },
    async events(argv) {
      const { values, positionals } = parse(argv, { limit: { type: 'string' } }, 'model events');
      const id = onePositional(positionals, 'MODEL_ID', 'model events');
      const limit = eventLimit(values.limit, 'model events');
      const events = await withStore(values.db, async (s) => {
        const found = await s.listModelEvents(id, limit);
        // The trail outlives the model, so only "no events and no model" is unknown.
        if (found.length === 0) orNotFound(await s.getModel(id), 'model', id);
        return found;
      });
      return { result: events, columns: EVENT_COLUMNS };
    },
    async update(argv) {
      const { values, positionals } = parse(argv, MODEL_FIELDS, 'model update');
      const id = onePositional(positionals, 'MODEL_ID', 'model update');
      const delivery = deliveryArg(values.delivery, 'model update');
      const patch = { ...credentialPatch(values), name: optional(values.name), delivery };
      if (isEmptyPatch(patch)) throw new UsageError(NOTHING_TO_UPDATE);
      return { result: (await withStore(values.db, (s) => s.updateModel(id, patch))) };
    },
    /** With credential options, stores them first (clearing a rejected state), then connects. */
    async connect(argv) {
      const { values, positionals } = parse(argv, CREDENTIAL_FIELDS, 'model connect');
      const id = onePositional(positionals, 'MODEL_ID', 'model connect');
      const patch = credentialPatch(values);
      const result = await withStore(values.db, async (s) => {
        if (!isEmptyPatch(patch)) await s.updateModel(id, patch);
        return s.setModelStatus(id, 'connected');
      });
      return { result };
    },
    async disconnect(argv) {
      const { values, positionals } = parse(argv, {}, 'model disconnect');
      const id = onePositional(positionals, 'MODEL_ID', 'model disconnect');
      return { result: (await withStore(values.db, (s) => s.setModelStatus(id, 'disconnected'))) };
    },
    async remove(argv) {
      const { values, positionals } = parse(argv, {}, 'model remove');
      const id = onePositional(positionals, 'MODEL_ID', 'model remove');
      await withStore(values.db, (s) => s.removeModel(id));
      return { result: { id, removed: true } };
    },
  },

  audit: {
    /** `ofgw audit [filters]` (main.ts supplies the `list`). */
    async list(argv) {
      const { values, positionals } = parse(argv, AUDIT_OPTIONS, 'audit');
      noPositionals(positionals, 'audit');
      const query = auditFilters(values, 'audit');
      return { result: await withStore(values.db, (s) => s.listAudit(query)), columns: AUDIT_COLUMNS };
    },
  },
};

/** The record commands; with `--url` (or OFGW_ADMIN_URL) they drive a remote gateway instead (see remote.ts). */
export const COMMANDS = withRemote(LOCAL_COMMANDS);
