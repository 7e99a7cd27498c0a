/**
 * Where webhooks may go (SSRF practice): https only, and no loopback, private, link-local,
 * unspecified, multicast or otherwise reserved address, checked on the addresses the name
 * resolves to (the connection then goes to exactly those), unless the operator allows private
 * targets (`webhookAllowPrivateTargets`: plain http and any address, for receivers on the
 * operator's own network and for tests).
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { describeIssues, type InputIssue } from '../input-issues.js';
import { StoreError } from '../store/errors.js';

const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) BLOCKED.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96], // NAT64 reaches IPv4 targets indirectly
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10],
  ['ff00::', 8], // multicast
] as const) BLOCKED.addSubnet(net, prefix, 'ipv6');
// IPv4-mapped IPv6 (::ffff:a.b.c.d) is checked as the IPv4 address in refusedAddress. Not as a
// subnet here: BlockList matches every IPv4 address against IPv6 rules in their mapped form.

/** Why an address may not be a webhook target, or undefined when it may. */
export function refusedAddress(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return `${address} is not an IP address`;
  const mapped = family === 6 ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] : undefined;
  if (mapped !== undefined) return refusedAddress(mapped);
  return BLOCKED.check(address, family === 4 ? 'ipv4' : 'ipv6') ? `${address} is a loopback, private, link-local or reserved address` : undefined;
}

export class TargetRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetRefused';
  }
}

export interface ResolvedTarget {
  url: URL;
  /** The addresses to connect to (all checked); the URL's host stays the Host and the SNI name. */
  addresses: Array<{ address: string; family: 4 | 6 }>;
}

export type Resolver = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

const systemResolver: Resolver = (hostname) => lookup(hostname, { all: true, verbatim: true });

/**
 * Checks the URL and resolves its host once; every address it resolves to must be allowed
 * (one private address among public ones is refused: the connection could pick it).
 * @throws {TargetRefused} naming the rule broken, never a query string.
 */
export async function resolveTarget(rawUrl: string, allowPrivate: boolean, resolve: Resolver = systemResolver): Promise<ResolvedTarget> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new TargetRefused('the webhook URL is not a URL');
  }
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) {
    throw new TargetRefused(`webhook URLs must be https:// (plain http needs webhookAllowPrivateTargets): ${url.protocol}// refused`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let found: Array<{ address: string; family: number }>;
  if (isIP(host) !== 0) found = [{ address: host, family: isIP(host) }];
  else {
    try {
      found = await resolve(host);
    } catch (err) {
      throw new TargetRefused(`${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? 'DNS error'})`);
    }
  }
  if (found.length === 0) throw new TargetRefused(`${host} does not resolve`);
  if (!allowPrivate) {
    for (const { address } of found) {
      const why = refusedAddress(address);
      if (why !== undefined) throw new TargetRefused(`${host} resolves to ${why}: refused (webhookAllowPrivateTargets is off)`);
    }
  }
  return { url, addresses: found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 })) };
}

const PRIVATE_HINT = 'allowed only with the webhookAllowPrivateTargets setting';

/**
 * Why `rawUrl` may not be registered as an endpoint, judged without DNS: the scheme, and a host
 * that is `localhost` or a literal refused address. Names are resolved and checked again on
 * every attempt ({@link resolveTarget}), since what a name points at can change after
 * registration. Undefined when it may be registered (or is no URL: the store says so).
 */
export function refusedEndpointUrl(rawUrl: string, allowPrivate: boolean): string | undefined {
  if (allowPrivate) return undefined;
  let url: URL;
  try {
    url = new URL(rawUrl.trim());
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:') return `must be https:// (plain http is ${PRIVATE_HINT})`;
  // `localhost.` is the same name, fully qualified.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return `must not point at localhost (loopback is ${PRIVATE_HINT})`;
  if (isIP(host) === 0) return undefined;
  const why = refusedAddress(host);
  return why === undefined ? undefined : `must not point at ${why} (${PRIVATE_HINT})`;
}

/**
 * Refuses an endpoint URL the target policy forbids, as the store refuses a malformed one
 * (INVALID_INPUT on the field `url`), so the API names the body field and the CLI its flag.
 */
export function requireAllowedEndpointUrl(rawUrl: string | undefined, allowPrivate: boolean): void {
  if (rawUrl === undefined) return;
  const rule = refusedEndpointUrl(rawUrl, allowPrivate);
  if (rule === undefined) return;
  const issues: InputIssue[] = [{ field: 'url', rule }];
  throw new StoreError('INVALID_INPUT', describeIssues(issues), issues);
}
