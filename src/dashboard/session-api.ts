/**
 * `/dashboard/api/session`: sign in with the adminToken (POST, JSON body), ask whether you
 * are signed in and get the CSRF token again (GET: `{"signedIn": false}` is an answer, not an
 * error, so a signed-out page load logs nothing in the browser console), sign out (DELETE). The session lives in an HttpOnly,
 * SameSite=Strict cookie (see ../admin/auth.ts); the token itself is never stored anywhere.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SESSION_COOKIE, SESSION_TTL_MS, SessionSigner, type DashboardSession } from '../admin/auth.js';
import { ApiError, readJsonBody, sendError, sendJson } from '../admin/http.js';
import { TokenBuckets } from '../gateway/limits/token-buckets.js';
import { clientIpOf } from '../gateway/server.js';
import type { Logger } from '../log.js';
import { securityHeaders } from './static-files.js';

/** Failed sign-ins one IP may make in a row before waiting. */
export const SIGN_IN_FAILURE_BURST = 5;
/** Then one more attempt every 10 s: guessing a 32-character token stays hopeless. */
export const SIGN_IN_FAILURES_PER_SECOND = 0.1;

export interface SessionApiOptions {
  signer: SessionSigner;
  logger: Logger;
  /** Take the client IP from X-Forwarded-For (the trustForwardedFor setting). */
  trustForwardedFor: boolean;
}

/** The handler for `/dashboard/api/session`. */
export function createSessionApi({ signer, logger, trustForwardedFor }: SessionApiOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const failures = new TokenBuckets(10_000);

  return (req, res) => {
    const headers = securityHeaders(req);
    const answer = (session: DashboardSession, status = 200, cookie?: string): void =>
      sendJson(
        res,
        status,
        { signedIn: true, csrfToken: session.csrfToken, expiresAt: session.expiresAt.toISOString() },
        { ...headers, ...(cookie ? { 'set-cookie': cookie } : {}) },
      );

    switch (req.method) {
      case 'GET': {
        const session = signer.sessionOf(req);
        // Not signed in (or the session expired) is the sign-in page's normal state.
        if (!session) return sendJson(res, 200, { signedIn: false }, headers);
        return answer(session);
      }
      case 'DELETE':
        // Stateless sessions cannot be revoked one by one: the browser forgets the cookie
        // (changing the adminToken ends every session).
        return sendJson(res, 204, undefined, { ...headers, 'set-cookie': cookieHeader(req, '', 0) });
      case 'POST':
        return void signIn(req, res, headers).catch((err: unknown) => {
          if (err instanceof ApiError) return sendError(res, err.code, err.message, err.status, headers);
          logger.error({ err: { name: err instanceof Error ? err.name : typeof err } }, 'dashboard sign-in failed');
          sendError(res, 'INTERNAL', 'Internal error', 500, headers);
        });
      default:
        return sendError(res, 'METHOD_NOT_ALLOWED', `${req.method ?? ''} is not allowed on /dashboard/api/session (allowed: GET, POST, DELETE)`, 405, {
          ...headers,
          allow: 'GET, POST, DELETE',
        });
    }

    async function signIn(req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): Promise<void> {
      const ip = clientIpOf(req, trustForwardedFor);
      const wait = failures.peek(ip, SIGN_IN_FAILURE_BURST, SIGN_IN_FAILURES_PER_SECOND);
      if (wait > 0) {
        const seconds = Math.ceil(wait / 1000);
        return sendError(res, 'RATE_LIMITED', `Too many failed sign-ins from this address: try again in ${seconds} s`, 429, {
          ...headers,
          'retry-after': String(seconds),
        });
      }
      const body = await readJsonBody(req);
      const token = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).token : undefined;
      if (typeof token !== 'string' || token === '') throw new ApiError('INVALID_INPUT', 'Invalid body: token: required (the adminToken, as {"token": "…"})');
      if (!signer.isAdminToken(token)) {
        failures.take(ip, SIGN_IN_FAILURE_BURST, SIGN_IN_FAILURES_PER_SECOND);
        logger.warn({ ip }, 'dashboard sign-in refused: wrong admin token');
        throw new ApiError('UNAUTHORIZED', 'Wrong admin token: paste the adminToken setting (OFGW_ADMIN_TOKEN) of this gateway');
      }
      const { cookieValue, session } = signer.issue();
      logger.info({ ip, expiresAt: session.expiresAt.toISOString() }, 'dashboard sign-in');
      answer(session, 201, cookieHeader(req, cookieValue, Math.floor(SESSION_TTL_MS / 1000)));
    }
  };
}

/** The Set-Cookie header: HttpOnly, SameSite=Strict, Path=/, Secure when the request came over TLS. */
function cookieHeader(req: IncomingMessage, value: string, maxAgeSeconds: number): string {
  const parts = [`${SESSION_COOKIE}=${value}`, 'Path=/', `Max-Age=${maxAgeSeconds}`, 'HttpOnly', 'SameSite=Strict'];
  if (cameOverTls(req)) parts.push('Secure');
  return parts.join('; ');
}

function cameOverTls(req: IncomingMessage): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted === true) return true;
  const proto = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(proto) ? proto[0] : proto)?.split(',', 1)[0]?.trim().toLowerCase();
  return first === 'https';
}
