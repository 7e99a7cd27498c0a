/**
 * `ofgw secrets status|rotate|prune`: the keyring that encrypts model secrets at rest. Each
 * command opens the database named by `--db` (or OFGW_DB, then DATABASE_URL) with the same
 * key rules as `ofgw serve` (OFGW_MASTER_KEY, else `--key-file` / OFGW_MASTER_KEY_FILE, else
 * the key file beside a SQLite database), and is safe to run while servers use it.
 */
import { openSecretsAdmin, SecretsError, type KeyUsage, type SecretsAdmin, type SecretsStatus } from '../../store/index.js';
import { noPositionals, parse, UsageError, type OptionSpec } from '../args.js';
import { printResult } from '../output.js';
import { openLocal, type CommandResult } from './record-fields.js';

type Handler = (argv: string[]) => Promise<CommandResult>;

const KEY_OPTIONS = { 'key-file': { type: 'string' } } as const satisfies OptionSpec;

async function withAdmin<T>(values: { db?: string; 'key-file'?: string }, fn: (admin: SecretsAdmin) => Promise<T>): Promise<T> {
  // Keys of a store that is not there are nothing to show, rotate or prune: never create one.
  const admin = await openLocal(values.db, openSecretsAdmin, { masterKeyFile: values['key-file'], create: false });
  try {
    return await fn(admin);
  } finally {
    await admin.close();
  }
}

/** Human form of the key list: one aligned line per key. */
function keyLines(keys: KeyUsage[]): string {
  const width = Math.max(...keys.map((k) => k.id.length));
  const note = (k: KeyUsage): string => {
    if (!k.known) return 'UNKNOWN: not in the keyring';
    const unreadable = k.unreadable > 0 ? `${k.unreadable} CANNOT BE DECRYPTED` : '';
    return [k.current ? 'current' : '', unreadable].filter(Boolean).join(', ');
  };
  return keys.map((k) => `\n  ${k.id.padEnd(width)}  ${String(k.values).padStart(6)} values  ${note(k)}`.trimEnd()).join('');
}

/** Why a status with undecryptable values fails: each key id and its count, where the keys came from. */
function unreadableError(status: SecretsStatus): Error {
  const parts = status.keys
    .filter((k) => k.unreadable > 0)
    .map((k) => `${k.unreadable} under key ${k.id}${k.known ? ', which does not decrypt them (another key under that id, or damaged values)' : `, which ${status.location} does not hold`}`);
  if (status.malformed > 0) parts.push(`${status.malformed} not in the ofgw1: format`);
  return new SecretsError('KEYRING_MISMATCH', `secrets status: ${status.unreadable} stored value${status.unreadable === 1 ? '' : 's'} cannot be decrypted: ${parts.join('; ')}`);
}

function positiveInt(value: string | undefined, flag: string, command: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9]\d{0,5}$/.test(value)) throw new UsageError(`${command}: ${flag} must be a whole number from 1 to 999999 (got "${value}")`);
  return Number(value);
}

export const SECRETS_COMMANDS: Record<string, Handler> = {
  /** Fails (exit 1) after printing when a stored value cannot be decrypted. */
  async status(argv) {
    const { values, positionals } = parse(argv, KEY_OPTIONS, 'secrets status');
    noPositionals(positionals, 'secrets status');
    const status = await withAdmin(values, (admin) => admin.status());
    const shown = values.json ? status : { ...status, keys: keyLines(status.keys) };
    if (status.unreadable === 0) return { result: shown };
    // The status is the evidence: print it, then fail (exit 1) naming the key ids.
    printResult(shown, values.json === true);
    throw unreadableError(status);
  },

  /**
   * Adds a new current key to the key file (env mode: uses OFGW_MASTER_KEY as set), then
   * re-encrypts every value under it in short transactions. Values that cannot be
   * decrypted are left untouched and reported, and the command fails.
   */
  async rotate(argv) {
    const { values, positionals } = parse(argv, { ...KEY_OPTIONS, 'batch-size': { type: 'string' } }, 'secrets rotate');
    noPositionals(positionals, 'secrets rotate');
    const batchSize = positiveInt(values['batch-size'], '--batch-size', 'secrets rotate');
    const result = await withAdmin(values, (admin) => admin.rotate({ batchSize }));
    if (result.failed.length > 0) {
      const which = result.failed.map((f) => f.error).join('; ');
      throw new Error(
        `secrets rotate: current key ${result.keyId}, ${result.reencrypted} values re-encrypted, but ${result.failed.length} ` +
          `could not be decrypted and were left as they were: ${which}`,
      );
    }
    return { result: { keyId: result.keyId, reencrypted: result.reencrypted } };
  },

  /** Removes keys no stored value uses; refuses in env mode, where the operator edits the variables. */
  async prune(argv) {
    const { values, positionals } = parse(argv, KEY_OPTIONS, 'secrets prune');
    noPositionals(positionals, 'secrets prune');
    try {
      const result = await withAdmin(values, (admin) => admin.prune());
      return { result: values.json ? result : { removed: result.removed.join(', ') || '(none)', kept: keyLines(result.kept) } };
    } catch (error) {
      if (error instanceof SecretsError && error.code === 'NOT_APPLICABLE') throw new UsageError(`secrets prune: ${error.message}`);
      throw error;
    }
  },
};
