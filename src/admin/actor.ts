/**
 * Who an operator request is, for the audit trail: the CLI in remote mode (it names itself in
 * {@link CLIENT_HEADER}), a dashboard session, or any other client of the Bearer token.
 * Nothing here is a secret: the OS user the CLI reports, the client IP, the session's short id.
 */
import type { IncomingMessage } from 'node:http';
import type { Actor } from '../store/types.js';
import type { OperatorCredential } from './auth.js';

/** Sent by `ofgw … --url`: `cli/<version>`. */
export const CLIENT_HEADER = 'X-Ofgw-Client';
/** Sent by `ofgw … --url`: the OS user running it, `user@host` (as the client claims it). */
export const OPERATOR_HEADER = 'X-Ofgw-Operator';

/** A header's value as printable ASCII, bounded, or undefined when absent or empty. */
function headerText(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  const text = (Array.isArray(value) ? value[0] : value)?.replace(/[^\x20-\x7e]+/g, ' ').trim().slice(0, 100);
  return text === '' ? undefined : text;
}

/**
 * The actor of an authenticated request coming from `clientIp`.
 * @example actorOf(req, { via: 'bearer' }, '10.0.0.5') // { kind: 'api', detail: '10.0.0.5' }
 */
export function actorOf(req: IncomingMessage, credential: OperatorCredential, clientIp: string): Actor {
  if (credential.via === 'session') return { kind: 'dashboard', detail: `session ${credential.session.id} from ${clientIp}` };
  const client = headerText(req, CLIENT_HEADER);
  if (client?.startsWith('cli/')) {
    const operator = headerText(req, OPERATOR_HEADER);
    return { kind: 'cli-remote', detail: `${operator ?? 'unknown user'} (${client}) from ${clientIp}` };
  }
  return { kind: 'api', detail: clientIp };
}
