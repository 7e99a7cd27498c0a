/**
 * Remote mode of `ofgw org|subscription|key|model …`: with `--url http://HOST:PORT` (or
 * OFGW_ADMIN_URL, see ../urls.ts), the commands drive a running gateway's management API instead of opening a
 * store, printing the same shapes and exiting with the same codes (1 for a refused
 * operation, with the API's message; 2 for bad usage). The admin token comes from
 * OFGW_ADMIN_TOKEN only: a flag would show it in `ps`.
 */
import type { InputIssue } from '../../input-issues.js';
import { StoreError, type StoreErrorCode } from '../../store/errors.js';
import { SUBSCRIPTION_STATUSES, type ModelEvent, type SubscriptionStatus } from '../../store/types.js';
import { noPositionals, onePositional, parse, required, UsageError, type OptionSpec } from '../args.js';
import { CLIENT_HEADER, OPERATOR_HEADER } from '../../admin/actor.js';
import { operatorName } from '../operator.js';
import { adminUrl, wantsAdminUrl } from '../urls.js';
import { packageVersion } from '../version.js';
import {
  AUDIT_COLUMNS,
  AUDIT_OPTIONS,
  auditFilters,
  auditSearch,
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
  SHOWN_EVENTS,
  secretArg,
  type CommandResult,
} from './record-fields.js';

type Handler = (argv: string[]) => Promise<CommandResult>;
type Groups = Record<string, Record<string, Handler>>;

const URL_OPTION = { url: { type: 'string' } } as const satisfies OptionSpec;
const STORE_CODES: readonly string[] = ['NOT_FOUND', 'INVALID_INPUT', 'CONFLICT'] satisfies StoreErrorCode[];

/**
 * The record commands with remote mode: each runs remotely when `--url` or OFGW_ADMIN_URL asks
 * for it (and no `--db` for a local store, see {@link wantsAdminUrl}), else
 * locally. A subcommand only one side has explains which mode it needs.
 */
export function withRemote(local: Groups): Groups {
  const groups: Groups = {};
  for (const group of new Set([...Object.keys(local), ...Object.keys(REMOTE)])) {
    const handlers: Record<string, Handler> = {};
    for (const sub of new Set([...Object.keys(local[group] ?? {}), ...Object.keys(REMOTE[group] ?? {})])) {
      handlers[sub] = (argv) => {
        const handler = wantsAdminUrl(argv) ? REMOTE[group]?.[sub] : local[group]?.[sub];
        if (!handler) {
          throw new UsageError(wantsAdminUrl(argv) ? `${group} ${sub}: not available with --url` : `${group} ${sub}: needs --url (a running gateway's management API)`);
        }
        return handler(argv);
      };
    }
    groups[group] = handlers;
  }
  return groups;
}

/** A connection to one gateway's management API. */
export class AdminClient {
  private readonly base: string;
  private readonly token: string;

  /** `url`: the value of `flagName` (`--url`, or the webhook commands' `--admin-url`), else OFGW_ADMIN_URL. */
  constructor(url: string | undefined, command: string, flagName = '--url') {
    const base = adminUrl(url, command, flagName);
    const token = process.env.OFGW_ADMIN_TOKEN ?? '';
    if (token === '') throw new UsageError(`${command}: remote mode needs the admin token in OFGW_ADMIN_TOKEN (never a flag: ps would show it)`);
    this.base = `${base}/admin/v1`;
    this.token = token;
  }

  /** Calls the API; an error answer becomes exit code 1 with the API's message. */
  async call<T>(method: string, path: string, body?: object): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          // Names the CLI and its user in the gateway's audit trail (the `cli-remote` actor).
          [CLIENT_HEADER]: `cli/${packageVersion()}`,
          [OPERATOR_HEADER]: operatorName(),
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`cannot reach ${this.base}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`${this.base}${path} answered ${res.status} without JSON: is --url a gateway?`);
    }
    if (res.ok) return parsed as T;
    const { error, code, issues } = (parsed ?? {}) as { error?: unknown; code?: unknown; issues?: unknown };
    const message = typeof error === 'string' ? error : `HTTP ${res.status}`;
    if (typeof code === 'string' && STORE_CODES.includes(code)) throw new StoreError(code as StoreErrorCode, message, inputIssuesOf(issues));
    throw new Error(typeof code === 'string' ? `${message} (${code})` : message);
  }
}

/** The API's `issues` (INVALID_INPUT), so the CLI names the flags as it does locally; none if malformed. */
function inputIssuesOf(value: unknown): InputIssue[] {
  if (!Array.isArray(value)) return [];
  const issues = (value as unknown[]).map((i) => (i ?? {}) as Partial<Record<keyof InputIssue, unknown>>);
  if (!issues.every((i) => typeof i.field === 'string' && typeof i.rule === 'string')) return [];
  return issues.map((i) => ({ field: i.field as string, rule: i.rule as string }));
}

/** Parses the command's options plus `--url`, and connects. */
function remote<O extends OptionSpec>(argv: string[], options: O, command: string) {
  const parsed = parse(argv, { ...options, ...URL_OPTION }, command);
  if (parsed.values.db !== undefined) throw new UsageError(`${command}: give --url or --db, not both`);
  const url = parsed.values.url;
  return { ...parsed, api: new AdminClient(typeof url === 'string' ? url : undefined, command) };
}

/** An id as a path segment. */
export const id = (value: string): string => encodeURIComponent(value);

/** The API adds `lastError` to models; the CLI prints the store's shape, as in local mode. */
function storeShape<M extends { lastError?: unknown }>(model: M): Omit<M, 'lastError'> {
  const { lastError: _shownAsCredentialsRejected, ...rest } = model;
  return rest;
}

/** The credential options as an API body: unset ones left out, "" clears an optional one. */
function credentialBody(values: { [K in keyof typeof CREDENTIAL_FIELDS]?: string }): Record<string, string | null> {
  const body: Record<string, string | null> = {};
  const set = (field: string, value: string | undefined, clearable: boolean): void => {
    if (value !== undefined) body[field] = clearable && value === '' ? null : value;
  };
  set('wsUrl', values['ws-url'], false);
  set('wsToken', secretArg(values['ws-token']), false);
  set('userAgent', values['user-agent'], true);
  set('cookie', values.cookie, true);
  set('proxyUrl', values.proxy, true);
  return body;
}

type Model = { id: string; lastError?: unknown } & Record<string, unknown>;

const REMOTE: Groups = {
  org: {
    async create(argv) {
      const { values, positionals, api } = remote(argv, { name: { type: 'string' } }, 'org create');
      noPositionals(positionals, 'org create');
      const name = required(values.name, '--name', 'org create');
      return { result: await api.call<object>('POST', '/organizations', { name }) };
    },
    async list(argv) {
      const { positionals, api } = remote(argv, {}, 'org list');
      noPositionals(positionals, 'org list');
      return { result: await api.call<object>('GET', '/organizations') };
    },
    async rename(argv) {
      const { values, positionals, api } = remote(argv, { name: { type: 'string' } }, 'org rename');
      const orgId = onePositional(positionals, 'ORG_ID', 'org rename');
      const name = required(values.name, '--name', 'org rename');
      return { result: await api.call<object>('PATCH', `/organizations/${id(orgId)}`, { name }) };
    },
    async delete(argv) {
      const { positionals, api } = remote(argv, {}, 'org delete');
      const orgId = onePositional(positionals, 'ORG_ID', 'org delete');
      return { result: await api.call<object>('DELETE', `/organizations/${id(orgId)}`) };
    },
  },

  subscription: {
    async set(argv) {
      const { values, positionals, api } = remote(argv, { org: { type: 'string' }, status: { type: 'string' }, plan: { type: 'string' } }, 'subscription set');
      noPositionals(positionals, 'subscription set');
      const org = required(values.org, '--org', 'subscription set');
      const status = required(values.status, '--status', 'subscription set');
      if (!SUBSCRIPTION_STATUSES.includes(status as SubscriptionStatus)) {
        throw new UsageError(`subscription set: --status must be one of ${SUBSCRIPTION_STATUSES.join(', ')} (got "${status}")`);
      }
      return { result: await api.call<object>('PUT', `/organizations/${id(org)}/subscription`, { status, plan: values.plan ?? null }) };
    },
    async show(argv) {
      const { values, positionals, api } = remote(argv, { org: { type: 'string' } }, 'subscription show');
      noPositionals(positionals, 'subscription show');
      const org = required(values.org, '--org', 'subscription show');
      return { result: await api.call<object>('GET', `/organizations/${id(org)}/subscription`) };
    },
  },

  key: {
    async create(argv) {
      const { values, positionals, api } = remote(argv, { org: { type: 'string' }, name: { type: 'string' }, 'expires-at': { type: 'string' } }, 'key create');
      noPositionals(positionals, 'key create');
      const org = required(values.org, '--org', 'key create');
      const body = { name: values.name ?? null, expiresAt: values['expires-at'] ?? null };
      return { result: await api.call<object>('POST', `/organizations/${id(org)}/keys`, body) };
    },
    async list(argv) {
      const { values, positionals, api } = remote(argv, { org: { type: 'string' } }, 'key list');
      noPositionals(positionals, 'key list');
      const org = required(values.org, '--org', 'key list');
      return { result: await api.call<object>('GET', `/organizations/${id(org)}/keys`), columns: KEY_COLUMNS };
    },
    async revoke(argv) {
      const { positionals, api } = remote(argv, {}, 'key revoke');
      const keyId = onePositional(positionals, 'KEY_ID', 'key revoke');
      return { result: await api.call<object>('POST', `/keys/${id(keyId)}/revoke`, {}) };
    },
    async rotate(argv) {
      const { values, positionals, api } = remote(argv, { grace: { type: 'string' } }, 'key rotate');
      const keyId = onePositional(positionals, 'KEY_ID', 'key rotate');
      const grace = graceSeconds(values.grace, 'key rotate');
      return { result: await api.call<object>('POST', `/keys/${id(keyId)}/rotate`, { graceSeconds: grace }) };
    },
  },

  model: {
    async add(argv) {
      const { values, positionals, api } = remote(argv, { org: { type: 'string' }, ...MODEL_FIELDS }, 'model add');
      noPositionals(positionals, 'model add');
      const org = required(values.org, '--org', 'model add');
      required(values['ws-url'], '--ws-url', 'model add');
      const delivery = deliveryArg(values.delivery, 'model add');
      const body = credentialBody(values);
      required(body.wsToken ?? undefined, '--ws-token', 'model add');
      if (values.name !== undefined) body.name = values.name;
      if (delivery !== undefined) body.delivery = delivery;
      return { result: storeShape(await api.call<Model>('POST', `/organizations/${id(org)}/models`, body)) };
    },
    async list(argv) {
      const { values, positionals, api } = remote(argv, { org: { type: 'string' } }, 'model list');
      noPositionals(positionals, 'model list');
      // The organization's own listing answers 404 for an unknown one, as the local command does.
      const path = values.org === undefined ? '/models' : `/organizations/${id(values.org)}/models`;
      return { result: (await api.call<Model[]>('GET', path)).map(storeShape), columns: MODEL_COLUMNS };
    },
    async show(argv) {
      const { values, positionals, api } = remote(argv, {}, 'model show');
      const modelId = onePositional(positionals, 'MODEL_ID', 'model show');
      const model = storeShape(await api.call<Model>('GET', `/models/${id(modelId)}`));
      const events = await api.call<ModelEvent[]>('GET', `/models/${id(modelId)}/events?limit=${SHOWN_EVENTS}`);
      return { result: values.json ? { ...model, events } : { ...model, events: eventLines(events) } };
    },
    async events(argv) {
      const { values, positionals, api } = remote(argv, { limit: { type: 'string' } }, 'model events');
      const modelId = onePositional(positionals, 'MODEL_ID', 'model events');
      const limit = eventLimit(values.limit, 'model events');
      const query = limit === undefined ? '' : `?limit=${limit}`;
      return { result: await api.call<object>('GET', `/models/${id(modelId)}/events${query}`), columns: EVENT_COLUMNS };
    },
    async update(argv) {
      const { values, positionals, api } = remote(argv, MODEL_FIELDS, 'model update');
      const modelId = onePositional(positionals, 'MODEL_ID', 'model update');
      const delivery = deliveryArg(values.delivery, 'model update');
      const body = credentialBody(values);
      if (values.name !== undefined) body.name = values.name === '' ? null : values.name;
      if (delivery !== undefined) body.delivery = delivery;
      if (Object.keys(body).length === 0) throw new UsageError(NOTHING_TO_UPDATE);
      return { result: storeShape(await api.call<Model>('PATCH', `/models/${id(modelId)}`, body)) };
    },
    async connect(argv) {
      const { values, positionals, api } = remote(argv, CREDENTIAL_FIELDS, 'model connect');
      const modelId = onePositional(positionals, 'MODEL_ID', 'model connect');
      return { result: storeShape(await api.call<Model>('POST', `/models/${id(modelId)}/connect`, credentialBody(values))) };
    },
    async disconnect(argv) {
      const { positionals, api } = remote(argv, {}, 'model disconnect');
      const modelId = onePositional(positionals, 'MODEL_ID', 'model disconnect');
      return { result: storeShape(await api.call<Model>('POST', `/models/${id(modelId)}/disconnect`, {})) };
    },
    async remove(argv) {
      const { positionals, api } = remote(argv, {}, 'model remove');
      const modelId = onePositional(positionals, 'MODEL_ID', 'model remove');
      await api.call<undefined>('DELETE', `/models/${id(modelId)}`);
      return { result: { id: modelId, removed: true } };
    },
  },

  audit: {
    async list(argv) {
      const { values, positionals, api } = remote(argv, AUDIT_OPTIONS, 'audit');
      noPositionals(positionals, 'audit');
      const query = auditFilters(values, 'audit');
      return { result: await api.call<object>('GET', `/events${auditSearch(query)}`), columns: AUDIT_COLUMNS };
    },
  },
};
