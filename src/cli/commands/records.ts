/**
 * `ofgw org|subscription|key|model …`: the store's records from the command line. Each
 * command opens the store named by `--db` (or OFGW_DB), so it works on the same file as a
 * running `ofgw serve`, whose change feed then applies the change to live relays.
 */
import { readFileSync } from 'node:fs';
import { openStore } from '../../store/index.js';
import { SUBSCRIPTION_STATUSES, type SubscriptionStatus } from '../../store/types.js';
import type { Store } from '../../store/types.js';
import { noPositionals, onePositional, parse, required, UsageError, type OptionSpec } from '../args.js';
import type { Printable } from '../output.js';

export interface CommandResult {
  result: Printable;
  columns?: string[];
}

type Handler = (argv: string[]) => Promise<CommandResult>;

/** Default store location, shared with `serve`. */
export function dbLocation(flag: string | undefined): string {
  return flag ?? process.env.OFGW_DB ?? './data/ofgw.db';
}

async function withStore<T>(db: string | undefined, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(dbLocation(db));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

const MODEL_FIELDS = {
  'ws-url': { type: 'string' },
  'ws-token': { type: 'string' },
  'user-agent': { type: 'string' },
  cookie: { type: 'string' },
  proxy: { type: 'string' },
  name: { type: 'string' },
} as const satisfies OptionSpec;

const MODEL_COLUMNS = ['id', 'orgId', 'name', 'status', 'wsUrl', 'hasWsToken', 'updatedAt'];
const KEY_COLUMNS = ['id', 'name', 'prefix', 'createdAt', 'lastUsedAt', 'revokedAt', 'expiresAt'];

/** `--ws-token -` reads the token from stdin, keeping it out of shell history and `ps`. */
function secretArg(value: string | undefined): string | undefined {
  if (value !== '-') return value;
  return readFileSync(0, 'utf8').trim();
}

/** An empty string clears an optional field on update (`--cookie ""`). */
function optional(value: string | undefined): string | null | undefined {
  if (value === undefined) return undefined;
  return value === '' ? null : value;
}

export const COMMANDS: Record<string, Record<string, Handler>> = {
  org: {
    async create(argv) {
      const { values, positionals } = parse(argv, { name: { type: 'string' } }, 'org create');
      noPositionals(positionals, 'org create');
      const name = required(values.name, '--name', 'org create');
      return { result: await withStore(values.db, (s) => s.createOrganization({ name })) };
    },
    async list(argv) {
      const { values, positionals } = parse(argv, {}, 'org list');
      noPositionals(positionals, 'org list');
      return { result: (await withStore(values.db, (s) => s.listOrganizations())) };
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
        if (!(await s.getOrganization(org))) throw new UsageError(`subscription show: organization ${org} not found`);
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
      return { result: (await withStore(values.db, (s) => s.listApiKeys(org))), columns: KEY_COLUMNS };
    },
    async revoke(argv) {
      const { values, positionals } = parse(argv, {}, 'key revoke');
      const id = onePositional(positionals, 'KEY_ID', 'key revoke');
      return { result: (await withStore(values.db, (s) => s.revokeApiKey(id))) };
    },
  },

  model: {
    async add(argv) {
      const { values, positionals } = parse(argv, { org: { type: 'string' }, ...MODEL_FIELDS }, 'model add');
      noPositionals(positionals, 'model add');
      const org = required(values.org, '--org', 'model add');
      const wsUrl = required(values['ws-url'], '--ws-url', 'model add');
      const wsToken = required(secretArg(values['ws-token']), '--ws-token', 'model add');
      const result = await withStore(values.db, (s) =>
        s.createModel(org, {
          wsUrl,
          wsToken,
          name: values.name ?? null,
          userAgent: values['user-agent'] ?? null,
          cookie: values.cookie ?? null,
          proxyUrl: values.proxy ?? null,
        }),
      );
      return { result: result };
    },
    async list(argv) {
      const { values, positionals } = parse(argv, { org: { type: 'string' } }, 'model list');
      noPositionals(positionals, 'model list');
      return { result: (await withStore(values.db, (s) => s.listModels(values.org))), columns: MODEL_COLUMNS };
    },
    async show(argv) {
      const { values, positionals } = parse(argv, {}, 'model show');
      const id = onePositional(positionals, 'MODEL_ID', 'model show');
      const model = await withStore(values.db, (s) => s.getModel(id));
      if (!model) throw new UsageError(`model show: model ${id} not found`);
      return { result: model };
    },
    async update(argv) {
      const { values, positionals } = parse(argv, MODEL_FIELDS, 'model update');
      const id = onePositional(positionals, 'MODEL_ID', 'model update');
      const patch = {
        wsUrl: values['ws-url'],
        wsToken: secretArg(values['ws-token']),
        name: optional(values.name),
        userAgent: optional(values['user-agent']),
        cookie: optional(values.cookie),
        proxyUrl: optional(values.proxy),
      };
      if (Object.values(patch).every((v) => v === undefined)) {
        throw new UsageError('model update: nothing to change (give --ws-url, --ws-token, --user-agent, --cookie, --proxy or --name)');
      }
      return { result: (await withStore(values.db, (s) => s.updateModel(id, patch))) };
    },
    async connect(argv) {
      const { values, positionals } = parse(argv, {}, 'model connect');
      const id = onePositional(positionals, 'MODEL_ID', 'model connect');
      return { result: (await withStore(values.db, (s) => s.setModelStatus(id, 'connected'))) };
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
};
