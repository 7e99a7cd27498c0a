/**
 * What the local (records.ts) and remote (remote.ts) record commands share: their options,
 * output columns and small argument helpers, so both speak the same interface.
 */
import { readFileSync } from 'node:fs';
import { SETTINGS } from '../../config.js';
import { describeIssues } from '../../input-issues.js';
import { StoreError, type OpenStoreOptions } from '../../store/index.js';
import { ACTOR_KINDS, AUDIT_ACTIONS, AUDIT_TARGET_KINDS, DELIVERY_MODES, MAX_GRACE_SECONDS, type AuditQuery, type DeliveryMode, type ModelEvent } from '../../store/types.js';
import { isoDate } from '../../store/validation.js';
import { UsageError, type OptionSpec } from '../args.js';
import type { Printable } from '../output.js';

export interface CommandResult {
  result: Printable;
  columns?: string[];
}

/**
 * The store location and what gave it, in the order `serve` reads the `db` setting: `--db`,
 * OFGW_DB, then DATABASE_URL (a postgres:// URL, as hosting platforms set it), then the default.
 */
export function storeLocation(flag: string | undefined): { location: string; from: string } {
  if (flag !== undefined) return { location: flag, from: 'from --db' };
  const { env, envAliases, default: fallback } = SETTINGS.db;
  const variable = [env, ...envAliases].find((name) => process.env[name] !== undefined);
  return variable === undefined ? { location: fallback, from: 'the default' } : { location: process.env[variable] as string, from: `from ${variable}` };
}

/**
 * Opens the local store (see {@link storeLocation}) with `open` (openStore or openSecretsAdmin).
 * Only a command that may create the store (`create`: org create, whose record is the first
 * any store needs) makes one where there is none; the others fail with NOT_FOUND naming the
 * location and where it came from, so a mistyped `--db` is not answered from a new, empty
 * store, and nothing is created.
 */
export async function openLocal<T>(
  flag: string | undefined,
  open: (location: string, options: OpenStoreOptions) => Promise<T>,
  options: OpenStoreOptions & { create: boolean },
): Promise<T> {
  const { location, from } = storeLocation(flag);
  const { create, ...rest } = options;
  try {
    return await open(location, { ...rest, createIfMissing: create });
  } catch (error) {
    // Opening involves no record, so its NOT_FOUND is the missing store.
    if (error instanceof StoreError && error.code === 'NOT_FOUND') {
      throw new StoreError('NOT_FOUND', `${error.message} (${from}; start one with ofgw serve, or pass --db)`);
    }
    throw error;
  }
}

export const MODEL_FIELDS = {
  'ws-url': { type: 'string' },
  'ws-token': { type: 'string' },
  'user-agent': { type: 'string' },
  cookie: { type: 'string' },
  proxy: { type: 'string' },
  name: { type: 'string' },
  delivery: { type: 'string' },
} as const satisfies OptionSpec;

export const CREDENTIAL_FIELDS = {
  'ws-url': MODEL_FIELDS['ws-url'],
  'ws-token': MODEL_FIELDS['ws-token'],
  'user-agent': MODEL_FIELDS['user-agent'],
  cookie: MODEL_FIELDS.cookie,
  proxy: MODEL_FIELDS.proxy,
} as const satisfies OptionSpec;

/** The flag that gives each store field, so a refused value is named as the user typed it. */
const FIELD_FLAGS: Readonly<Record<string, string>> = {
  name: '--name',
  status: '--status',
  plan: '--plan',
  expiresAt: '--expires-at',
  wsUrl: '--ws-url',
  wsToken: '--ws-token',
  userAgent: '--user-agent',
  cookie: '--cookie',
  proxyUrl: '--proxy',
  limit: '--limit',
  graceSeconds: '--grace',
  delivery: '--delivery',
  url: '--url',
  events: '--events',
  models: '--models',
  enabled: '--enabled',
  before: '--before',
};

/** A field as its flag: `events.2` (an entry of a list flag) as `--events entry 3`. */
function flagOfField(field: string): string {
  const flag = FIELD_FLAGS[field];
  if (flag !== undefined) return flag;
  const [head = '', index] = field.split('.');
  const listFlag = FIELD_FLAGS[head];
  return listFlag !== undefined && index !== undefined && /^\d+$/.test(index) ? `${listFlag} entry ${Number(index) + 1}` : field || 'input';
}

/**
 * A store (or management API) refusal in the CLI's words: each field it names by its flag,
 * `--expires-at must be in the future` rather than `expiresAt must be in the future`.
 */
export function inFlags(error: StoreError): string {
  return error.issues.length === 0 ? error.message : describeIssues(error.issues, flagOfField);
}

export const MODEL_COLUMNS = ['id', 'orgId', 'name', 'status', 'delivery', 'wsUrl', 'hasWsToken', 'updatedAt'];
export const EVENT_COLUMNS = ['seq', 'at', 'kind', 'reason'];
/** Events `model show` includes; `model events` pages further. */
export const SHOWN_EVENTS = 10;
export const KEY_COLUMNS = ['id', 'name', 'prefix', 'createdAt', 'lastUsedAt', 'revokedAt', 'expiresAt', 'replacedBy'];
export const AUDIT_COLUMNS = ['seq', 'at', 'actorKind', 'actorDetail', 'action', 'orgName', 'targetName'];

export const AUDIT_OPTIONS = {
  org: { type: 'string' },
  action: { type: 'string' },
  actor: { type: 'string' },
  target: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  before: { type: 'string' },
  limit: { type: 'string' },
} as const satisfies OptionSpec;

/** What `model update` says when no option changes anything. */
export const NOTHING_TO_UPDATE = 'model update: nothing to change (give --ws-url, --ws-token, --user-agent, --cookie, --proxy, --name or --delivery)';

/**
 * `--delivery relay|session`, checked here (in both modes) so the message names the flag and
 * its values. Absent: `undefined` (a new model gets the store's default, relay).
 */
export function deliveryArg(value: string | undefined, command: string): DeliveryMode | undefined {
  if (value === undefined) return undefined;
  if (!(DELIVERY_MODES as readonly string[]).includes(value)) {
    throw new UsageError(`${command}: --delivery must be one of ${DELIVERY_MODES.join(', ')} (got "${value}")`);
  }
  return value as DeliveryMode;
}

const SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * `--grace 24h`: how long a rotated key keeps working, in seconds (`0`, or a number with s,
 * m, h or d; at most 30 days). Absent: 0, the old key stops at once.
 */
export function graceSeconds(value: string | undefined, command: string): number {
  if (value === undefined || value.trim() === '0') return 0;
  const match = /^(\d{1,7})([smhd])$/.exec(value.trim());
  const seconds = match ? Number(match[1]) * (SECONDS[match[2] as string] ?? 0) : Number.NaN;
  if (!(seconds <= MAX_GRACE_SECONDS)) {
    throw new UsageError(`${command}: --grace must be 0 or a duration such as 90s, 15m, 24h or 7d, at most 30d (got "${value}")`);
  }
  return seconds;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ACTION_FILTERS: readonly string[] = [...AUDIT_ACTIONS, ...AUDIT_TARGET_KINDS];

/** An ISO date flag, checked here so the message names the flag. */
function dateFlag(value: string | undefined, flag: string, command: string): string | undefined {
  if (value === undefined) return undefined;
  if (!isoDate.safeParse(value).success) {
    throw new UsageError(`${command}: ${flag} must be an ISO 8601 date, e.g. 2027-01-31 or 2027-01-31T12:00:00Z (got "${value}")`);
  }
  return value;
}

/** `ofgw audit`'s filters as a query; a bad one is a UsageError naming its flag (ids are not echoed). */
export function auditFilters(values: { [K in keyof typeof AUDIT_OPTIONS]?: string }, command: string): AuditQuery {
  for (const flag of ['org', 'target'] as const) {
    const id = values[flag];
    if (id !== undefined && !UUID.test(id)) throw new UsageError(`${command}: --${flag} must be an id (a UUID)`);
  }
  if (values.action !== undefined && !ACTION_FILTERS.includes(values.action)) {
    throw new UsageError(`${command}: --action must be one of ${AUDIT_TARGET_KINDS.join(', ')} or an action (${AUDIT_ACTIONS.join(', ')}) (got "${values.action}")`);
  }
  if (values.actor !== undefined && !(ACTOR_KINDS as readonly string[]).includes(values.actor)) {
    throw new UsageError(`${command}: --actor must be one of ${ACTOR_KINDS.join(', ')} (got "${values.actor}")`);
  }
  const before = values.before;
  if (before !== undefined && !/^[1-9]\d{0,15}$/.test(before)) throw new UsageError(`${command}: --before must be a whole number from 1 (an entry's seq) (got "${before}")`);
  return {
    orgId: values.org,
    action: values.action,
    actorKind: values.actor,
    targetId: values.target,
    since: dateFlag(values.since, '--since', command),
    until: dateFlag(values.until, '--until', command),
    before: before === undefined ? undefined : Number(before),
    limit: eventLimit(values.limit, command),
  };
}

/** The query string of an audit query for GET /events (the API calls the actor filter `actor`). */
export function auditSearch(query: AuditQuery): string {
  const search = new URLSearchParams();
  const { actorKind, ...rest } = query;
  for (const [name, value] of Object.entries({ ...rest, actor: actorKind })) if (value !== undefined) search.set(name, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

/** `--ws-token -` reads the token from stdin, keeping it out of shell history and `ps`. */
export function secretArg(value: string | undefined): string | undefined {
  if (value !== '-') return value;
  return readFileSync(0, 'utf8').trim();
}

/** `--limit N` for event listings. */
export function eventLimit(value: string | undefined, command: string): number | undefined {
  if (value === undefined) return undefined;
  const limit = Number(value);
  if (!/^\d+$/.test(value) || limit < 1 || limit > 1000) throw new UsageError(`${command}: --limit must be a whole number from 1 to 1000 (got "${value}")`);
  return limit;
}

/** Human form of an event list: one aligned line each, under the model's fields. */
export function eventLines(events: ModelEvent[]): string {
  if (events.length === 0) return '(none)';
  const width = Math.max(...events.map((e) => e.kind.length));
  return events.map((e) => `\n  ${e.at}  ${e.kind.padEnd(width)}  ${e.reason ?? ''}`.trimEnd()).join('');
}
