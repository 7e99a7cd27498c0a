/**
 * What the local (records.ts) and remote (remote.ts) record commands share: their options,
 * output columns and small argument helpers, so both speak the same interface.
 */
import { readFileSync } from 'node:fs';
import { SETTINGS } from '../../config.js';
import { describeIssues } from '../../input-issues.js';
import { StoreError, type OpenStoreOptions } from '../../store/index.js';
import type { ModelEvent } from '../../store/types.js';
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
function storeLocation(flag: string | undefined): { location: string; from: string } {
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
};

/**
 * A store (or management API) refusal in the CLI's words: each field it names by its flag,
 * `--expires-at must be in the future` rather than `expiresAt must be in the future`.
 */
export function inFlags(error: StoreError): string {
  return error.issues.length === 0 ? error.message : describeIssues(error.issues, (field) => FIELD_FLAGS[field] ?? (field || 'input'));
}

export const MODEL_COLUMNS = ['id', 'orgId', 'name', 'status', 'wsUrl', 'hasWsToken', 'updatedAt'];
export const EVENT_COLUMNS = ['seq', 'at', 'kind', 'reason'];
/** Events `model show` includes; `model events` pages further. */
export const SHOWN_EVENTS = 10;
export const KEY_COLUMNS = ['id', 'name', 'prefix', 'createdAt', 'lastUsedAt', 'revokedAt', 'expiresAt'];

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
