/**
 * The two addresses of a gateway the CLI uses, each with one name and one meaning (they are
 * the same host and port, but a user exports one for one purpose):
 *
 * - OFGW_ADMIN_URL (or `--url` of the record commands): the management API, `http(s)://`.
 *   Setting it sends org/subscription/key/model commands there instead of to a local store.
 * - OFGW_GATEWAY_URL (or `--url` of `ofgw connect`): where customers connect, `ws(s)://`,
 *   as examples/print-events reads it too.
 *
 * OFGW_URL, which meant the first in the CLI and the second in the example, stays an older
 * name of OFGW_ADMIN_URL only; a ws:// value in it, or OFGW_URL where the gateway's address is
 * wanted, stops with a message naming the variable to use.
 */
import { withoutPassword } from '../config.js';
import { UsageError } from './args.js';

export const ADMIN_URL_ENV = 'OFGW_ADMIN_URL';
export const GATEWAY_URL_ENV = 'OFGW_GATEWAY_URL';
/** The older name of {@link ADMIN_URL_ENV}. */
const LEGACY_URL_ENV = 'OFGW_URL';

const DEFAULT_GATEWAY_URL = 'ws://127.0.0.1:8080';
/** The management API shares the relay's port, so a ws:// URL given for it is read as http://. */
const ADMIN_SCHEMES: Readonly<Record<string, string>> = { 'http:': 'http:', 'https:': 'https:', 'ws:': 'http:', 'wss:': 'https:' };
/** As the client SDK: http:// and https:// name the same gateway. */
const GATEWAY_SCHEMES: readonly string[] = ['ws:', 'wss:', 'http:', 'https:'];

const set = (name: string): string | undefined => {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
};

function parsed(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/**
 * Whether the record commands go to a management API: `flag` given (`--url`; `--admin-url` for
 * the webhook commands, whose `--url` is the endpoint's), or a variable set, and no `--db`.
 */
export function wantsAdminUrl(argv: readonly string[], flag = '--url'): boolean {
  if (argv.some((a) => a === flag || a.startsWith(`${flag}=`))) return true;
  const local = argv.some((a) => a === '--db' || a.startsWith('--db='));
  return !local && (set(ADMIN_URL_ENV) ?? set(LEGACY_URL_ENV)) !== undefined;
}

function adminUrlSource(flag: string | undefined, flagName: string): { given: string; from: string } {
  if (flag !== undefined) return { given: flag, from: flagName };
  const from = [ADMIN_URL_ENV, LEGACY_URL_ENV].find((name) => set(name) !== undefined) ?? ADMIN_URL_ENV;
  return { given: set(from) ?? '', from };
}

/**
 * The management API's base URL (`http(s)://host[:port][/prefix]`, no trailing slash) from
 * `--url`, OFGW_ADMIN_URL or OFGW_URL.
 * @throws {UsageError} naming where a bad value came from.
 */
export function adminUrl(flag: string | undefined, command: string, flagName = '--url'): string {
  const { given, from } = adminUrlSource(flag, flagName);
  const url = parsed(given);
  const scheme = url && ADMIN_SCHEMES[url.protocol];
  if (from === LEGACY_URL_ENV && url && (url.protocol === 'ws:' || url.protocol === 'wss:')) {
    throw new UsageError(
      `${command}: OFGW_URL holds a ${url.protocol}// URL, but it names the management API (http://) for org, subscription, key and model commands; ` +
        `put the gateway's ws:// address in ${GATEWAY_URL_ENV} (ofgw connect, examples/print-events), and unset OFGW_URL to use the local store`,
    );
  }
  if (!url || !scheme) throw new UsageError(`${command}: ${from} must be the management API's http:// or https:// URL (got "${withoutPassword(given)}")`);
  return `${scheme}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * The gateway's base URL for relays, from `--url`, else OFGW_GATEWAY_URL, else the local
 * default.
 * @throws {UsageError} for a bad value, naming where it came from, or when only OFGW_URL is
 *   set (it no longer names the gateway: silently using the default would reach another one).
 */
export function gatewayUrl(flag: string | undefined, command: string): string {
  if (flag === undefined && set(GATEWAY_URL_ENV) === undefined && set(LEGACY_URL_ENV) !== undefined) {
    throw new UsageError(
      `${command}: OFGW_URL is not read here: it names the management API for the org, key and model commands; ` +
        `give the gateway's address with --url or ${GATEWAY_URL_ENV} (e.g. ${DEFAULT_GATEWAY_URL})`,
    );
  }
  const given = flag ?? set(GATEWAY_URL_ENV) ?? DEFAULT_GATEWAY_URL;
  const from = flag === undefined ? GATEWAY_URL_ENV : '--url';
  const url = parsed(given);
  if (!url || !GATEWAY_SCHEMES.includes(url.protocol) || url.host === '') {
    throw new UsageError(`${command}: ${from} must be the gateway's ws:// or wss:// URL, e.g. ${DEFAULT_GATEWAY_URL} (got "${withoutPassword(given)}")`);
  }
  return given;
}
