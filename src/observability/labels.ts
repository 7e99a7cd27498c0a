/**
 * Label values for the relay metrics. Each label has a fixed set of values, so a client
 * cannot grow the number of series: an outcome or close code outside the known set is
 * counted as `other`.
 */
import { ERROR_CATALOG } from '../errors.js';

/** Outcomes a connection sets besides the catalog codes (see ClientConnection.outcome). */
const RELAY_OUTCOMES = [
  'ok',
  'SHUTDOWN',
  'UPSTREAM_FAILED',
  'UPSTREAM_CLOSED_ABNORMALLY',
  'CLIENT_CLOSED_ABNORMALLY',
  'CLIENT_PROTOCOL_ERROR',
  'CLIENT_HEARTBEAT_TIMEOUT',
  'CLOSED_BY_OPERATOR',
  'INTERNAL_ERROR',
  'COORDINATION_UNAVAILABLE',
  'DELIVERY_CHANGED',
  'SESSIONS_UNAVAILABLE',
];

const OUTCOMES: ReadonlySet<string> = new Set([...RELAY_OUTCOMES, ...Object.keys(ERROR_CATALOG)]);

/** The catalog's 4xxx codes; upstream application codes (3000–4999) pass through to clients too. */
const CATALOG_CLOSE_CODES: ReadonlySet<number> = new Set(Object.values(ERROR_CATALOG).map((spec) => spec.closeCode));

/** `outcome` label: the relay's outcome if it is a known one, else `other`. */
export function outcomeLabel(outcome: string): string {
  return OUTCOMES.has(outcome) ? outcome : 'other';
}

/**
 * `code` label: the RFC 6455 / IANA codes 1000–1015 and the catalog's codes as themselves,
 * anything else (application codes an upstream passed through) as `other`.
 */
export function closeCodeLabel(code: number): string {
  return (code >= 1000 && code <= 1015) || CATALOG_CLOSE_CODES.has(code) ? String(code) : 'other';
}
