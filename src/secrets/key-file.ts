/**
 * The key file: `{ "current": "<id>", "keys": { "<id>": "<base64 32 bytes>", … } }`, mode
 * 0600, replaced atomically (temp file, fsync, rename) so a server re-reading it during
 * `ofgw secrets rotate` never sees half a file.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  copyFileSync,
  fstatSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { syncDirectory } from '../sync-directory.js';
import { SecretsError } from './errors.js';
import { decodeKey, KEY_BYTES, KEY_ID_PATTERN } from './format.js';

/** The keys in use: `current` encrypts, every key decrypts. */
export interface KeySet {
  current: string;
  keys: ReadonlyMap<string, Buffer>;
}

/**
 * Identifies one version of the file. Every write renames a new file into place, so the
 * inode changes; times and size guard against a freed inode number being reused.
 */
export interface FileStamp {
  ino: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  size: bigint;
}

export function sameStamp(a: FileStamp | undefined, b: FileStamp | undefined): boolean {
  return a !== undefined && b !== undefined && a.ino === b.ino && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.size === b.size;
}

function stampOf(s: { ino: bigint; mtimeNs: bigint; ctimeNs: bigint; size: bigint }): FileStamp {
  return { ino: s.ino, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs, size: s.size };
}

/** The file's stamp, or `undefined` when it does not exist. */
export function statKeyFile(path: string): FileStamp | undefined {
  try {
    return stampOf(statSync(path, { bigint: true }));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SecretsError('KEY_FILE', `cannot read key file ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
  }
}

/** A new key id: `k`, the UTC time to the second, and random hex (`k20261124143000-3f9a1c`). */
export function newKeyId(now: Date = new Date()): string {
  const time = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `k${time}-${randomBytes(3).toString('hex')}`;
}

/** A fresh AES-256 key from the CSPRNG. */
export function generateKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/**
 * Reads and validates the key file.
 * @throws {SecretsError} `KEY_FILE_MISSING` when absent, `KEY_FILE` when unreadable, not
 *   JSON, or readable by group/others; `INVALID_KEY` for bad key material.
 */
export function readKeyFile(path: string): { set: KeySet; stamp: FileStamp } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SecretsError('KEY_FILE_MISSING', `key file ${path} does not exist`, { cause: error });
    throw new SecretsError('KEY_FILE', `cannot read key file ${path} (${code ?? 'error'})`, { cause: error });
  }
  try {
    const s = fstatSync(fd, { bigint: true });
    checkPermissions(path, Number(s.mode));
    const text = readFileSync(fd, 'utf8');
    return { set: parseKeyFile(text, path), stamp: stampOf(s) };
  } finally {
    closeSync(fd);
  }
}

/**
 * Refuses a key file that group or others can read or write, as ssh does for private keys:
 * the file is the only thing between a copied database and its secrets. Windows has no
 * such mode bits, so the check is skipped there.
 */
function checkPermissions(path: string, mode: number): void {
  if (process.platform === 'win32' || (mode & 0o077) === 0) return;
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  throw new SecretsError(
    'KEY_FILE',
    `key file ${path} is accessible by group or others (mode ${octal}); run \`chmod 600 ${path}\` ` +
      '(in Kubernetes, mount it with defaultMode 0400)',
  );
}

function parseKeyFile(text: string, path: string): KeySet {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // JSON.parse quotes the text around the error (key material): never pass it on.
    throw new SecretsError('KEY_FILE', `key file ${path} is not valid JSON`);
  }
  const shape = 'expected { "current": "<key id>", "keys": { "<key id>": "<base64 key>" } }';
  if (typeof data !== 'object' || data === null) throw new SecretsError('KEY_FILE', `key file ${path}: ${shape}`);
  const { current, keys } = data as { current?: unknown; keys?: unknown };
  if (typeof current !== 'string' || typeof keys !== 'object' || keys === null || Array.isArray(keys)) {
    throw new SecretsError('KEY_FILE', `key file ${path}: ${shape}`);
  }
  const map = new Map<string, Buffer>();
  for (const [id, value] of Object.entries(keys as Record<string, unknown>)) {
    if (!KEY_ID_PATTERN.test(id)) throw new SecretsError('KEY_FILE', `key file ${path}: key id "${id.slice(0, 64)}" must be 1–64 letters, digits, _ or -`);
    if (typeof value !== 'string') throw new SecretsError('INVALID_KEY', `key ${id} in key file ${path} is not a string`);
    map.set(id, decodeKey(value, `key ${id} in key file ${path}`));
  }
  if (!map.has(current)) throw new SecretsError('KEY_FILE', `key file ${path}: the current key "${current.slice(0, 64)}" is not among its keys`);
  return { current, keys: map };
}

function serialize(set: KeySet): string {
  const keys = Object.fromEntries([...set.keys].map(([id, key]) => [id, key.toString('base64')]));
  return `${JSON.stringify({ current: set.current, keys }, null, 2)}\n`;
}

/**
 * Writes `set` to `path` atomically with mode 0600. `exclusive` fails with `EEXIST` when the
 * file exists (two processes opening a new database at once must not each make a key), by
 * hard-linking the temp file into place instead of renaming over it.
 */
export function writeKeyFile(path: string, set: KeySet, { exclusive = false }: { exclusive?: boolean } = {}): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  // 'wx' with mode 0600: the key never sits in a file anyone else can open, not even briefly.
  const fd = openSync(temp, 'wx', 0o600);
  try {
    try {
      writeSync(fd, serialize(set));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (exclusive) placeExclusively(temp, path);
    else renameSync(temp, path);
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // Already renamed away.
    }
  }
  syncDirectory(dir);
}

function placeExclusively(temp: string, path: string): void {
  try {
    linkSync(temp, path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw error;
    // File systems without hard links: still exclusive, though not atomic for readers.
    copyFileSync(temp, path, constants.COPYFILE_EXCL);
  }
}
