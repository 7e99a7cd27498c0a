/**
 * The `db` setting as a PostgreSQL URL: recognised, checked before any connection is tried,
 * and described for messages as `host:port/database`, never with the user's password.
 */
import { ConfigError } from '../config.js';

export const DEFAULT_POSTGRES_PORT = 5432;

const EXPECTED = 'expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?options=-c%20search_path%3DSCHEMA]';

export interface PostgresTarget {
  /** The URL as given, password included: for the driver only. */
  url: string;
  /** `host:port/database`, for messages and logs. */
  where: string;
  /** Replaces the password, should a driver message ever quote it, with `***`. */
  scrub(text: string): string;
}

/**
 * Whether the store location is a PostgreSQL URL rather than a SQLite path.
 * @example isPostgresUrl('postgresql://db/ofgw') // true
 */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

function invalid(reason: string): ConfigError {
  return new ConfigError(`db: invalid PostgreSQL URL: ${reason} (${EXPECTED})`);
}

/** The text between `://` and the first `/`, `?` or `#`, and what follows it. */
function splitAuthority(location: string): { authority: string; tail: string } {
  const rest = location.replace(/^[a-z]+:\/\//i, '');
  const end = rest.search(/[/?#]/);
  return end < 0 ? { authority: rest, tail: '' } : { authority: rest.slice(0, end), tail: rest.slice(end) };
}

/**
 * Why `new URL` refused the text. Only what follows the last `@` of the authority (host and
 * port) is ever quoted: everything before it may be a password.
 */
function unparsable(authority: string): ConfigError {
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  const port = /^(?:\[[^\]]*\]|[^:]*):(.*)$/.exec(hostPort)?.[1];
  if (port !== undefined && !(/^\d{1,5}$/.test(port) && Number(port) <= 65535)) {
    return invalid(`the port "${port}" is not a number from 0 to 65535`);
  }
  return invalid('it does not parse as a URL; percent-encode any special character in the user name or password');
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * Checks a PostgreSQL URL and describes where it points. A host or port may also come from
 * `?host=` / `?port=` (a Unix socket folder, as libpq allows).
 * @throws {ConfigError} naming what is wrong, without the password.
 * @example parsePostgresUrl('postgres://app:pw@db:5433/ofgw').where // 'db:5433/ofgw'
 */
export function parsePostgresUrl(location: string): PostgresTarget {
  const { authority, tail } = splitAuthority(location);
  // A "/", "?" or "#" in a password ends the authority early, and the rest of the password
  // would pass for the database name (and be quoted in messages): refuse it first.
  if (!authority.includes('@') && tail.includes('@')) {
    throw invalid('a "/", "?" or "#" in the user name or password must be percent-encoded (%2F, %3F, %23)');
  }
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw unparsable(authority);
  }
  const host = url.searchParams.get('host') || decoded(url.hostname);
  if (host === '') throw invalid('it names no host');
  const database = decoded(url.pathname.replace(/^\//, ''));
  if (database === '') throw invalid('it names no database');
  const port = url.searchParams.get('port') || url.port || String(DEFAULT_POSTGRES_PORT);
  const secrets = [...new Set([url.password, decoded(url.password)])].filter((s) => s !== '');
  return {
    url: location,
    where: `${host}:${port}/${database}`,
    scrub: (text) => secrets.reduce((out, secret) => out.split(secret).join('***'), text),
  };
}
