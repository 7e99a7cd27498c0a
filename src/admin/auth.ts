/**
 * The operator's credentials for the management API: the adminToken as
 * `Authorization: Bearer <token>`, or a dashboard session cookie.
 *
 * Sessions are stateless: the cookie holds an expiry and a random nonce, signed with
 * HMAC-SHA-256 under a key derived from the adminToken. Every node and every worker that has
 * the same adminToken accepts it without shared storage, and changing the adminToken ends
 * every session at once. The CSRF token is a second HMAC of the same session, so a page on
 * another site can neither read it (the cookie is HttpOnly) nor compute it.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** The session cookie's name. */
export const SESSION_COOKIE = 'ofgw_session';
/** How long a dashboard session lasts: a working day, then the operator signs in again. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/** The header that carries the CSRF token on every cookie-authenticated change. */
export const CSRF_HEADER = 'X-CSRF-Token';

/** The credential of an `Authorization: Bearer …` header, if there is one. */
export function bearerOf(req: IncomingMessage): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}

/** A verified dashboard session. */
export interface DashboardSession {
  /** A short, non-secret name for the session (a digest of it), for the audit trail. */
  id: string;
  expiresAt: Date;
  /** What the client must send in X-CSRF-Token with every change. */
  csrfToken: string;
}

/** How a request proved it is the operator's. */
export type OperatorCredential = { via: 'bearer' } | { via: 'session'; session: DashboardSession };

/** Issues and verifies signed dashboard sessions for one adminToken. */
export class SessionSigner {
  readonly #key: Buffer;
  readonly #checkToken: (given: string) => boolean;

  constructor(adminToken: string) {
    // A key of its own, so a session MAC never doubles as anything derived from the token elsewhere.
    this.#key = createHmac('sha256', adminToken).update('ofgw dashboard session v1').digest();
    const expected = digest(adminToken);
    this.#checkToken = (given) => timingSafeEqual(digest(given), expected);
  }

  /** True when `given` is the adminToken (constant time). */
  isAdminToken(given: string): boolean {
    return this.#checkToken(given);
  }

  /** A new session: the cookie value to set, and the session it stands for. */
  issue(now = Date.now()): { cookieValue: string; session: DashboardSession } {
    const expires = now + SESSION_TTL_MS;
    const body = `${expires}.${randomBytes(18).toString('base64url')}`;
    const cookieValue = `${body}.${this.#mac('session', body)}`;
    return { cookieValue, session: this.#session(body, expires) };
  }

  /** The session a cookie value stands for, or undefined when it is forged, malformed or expired. */
  verify(cookieValue: string, now = Date.now()): DashboardSession | undefined {
    const match = /^(\d{1,16})\.([A-Za-z0-9_-]{24})\.([A-Za-z0-9_-]{43})$/.exec(cookieValue);
    if (!match) return undefined;
    const body = `${match[1]}.${match[2]}`;
    if (!safeEqual(this.#mac('session', body), match[3] ?? '')) return undefined;
    const expires = Number(match[1]);
    if (!(expires > now)) return undefined;
    return this.#session(body, expires);
  }

  /** The session of a request's cookie, if it carries a valid one. */
  sessionOf(req: IncomingMessage): DashboardSession | undefined {
    const value = cookieOf(req, SESSION_COOKIE);
    return value === undefined ? undefined : this.verify(value);
  }

  /**
   * Who the request is: a Bearer header decides alone (right or wrong); without one, the
   * session cookie. Undefined when neither proves the operator.
   */
  authenticate(req: IncomingMessage): OperatorCredential | undefined {
    const bearer = bearerOf(req);
    if (bearer !== undefined) return this.#checkToken(bearer) ? { via: 'bearer' } : undefined;
    const session = this.sessionOf(req);
    return session ? { via: 'session', session } : undefined;
  }

  #session(body: string, expires: number): DashboardSession {
    return { id: digest(body).toString('hex').slice(0, 12), expiresAt: new Date(expires), csrfToken: this.#mac('csrf', body) };
  }

  #mac(purpose: 'session' | 'csrf', body: string): string {
    return createHmac('sha256', this.#key).update(`${purpose}.${body}`).digest('base64url');
  }
}

/** True when the request carries the session's CSRF token (constant time). */
export function hasCsrfToken(req: IncomingMessage, session: DashboardSession): boolean {
  const given = req.headers[CSRF_HEADER.toLowerCase()];
  return typeof given === 'string' && safeEqual(given, session.csrfToken);
}

/** One cookie's value from the Cookie header. */
export function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}
