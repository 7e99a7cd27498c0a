/**
 * The management API under `/admin/v1` (issue 4 item 6): operators create organizations,
 * keys and models and watch live relays over HTTP, authenticated with the adminToken
 * setting (or the dashboard's session cookie plus its CSRF token, see ./auth.ts). Mounted by
 * `ofgw serve` as one of the gateway's {@link HttpRoute}s.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gateway, HttpRoute } from '../gateway/server.js';
import type { Logger } from '../log.js';
import { StoreError } from '../store/errors.js';
import { actorOf } from './actor.js';
import { CSRF_HEADER, hasCsrfToken, SessionSigner } from './auth.js';
import { ApiError, sendApiError, sendError, sendJson } from './http.js';
import { keyRoutes } from './keys.js';
import { modelRoutes } from './models.js';
import { ADMIN_PREFIX, openApiDocument } from './openapi.js';
import { organizationRoutes } from './organizations.js';
import { overviewRoutes } from './overview.js';
import { relayRoutes } from './relays.js';
import { defineRoute, matchRoute, type Route } from './router.js';
import { eventRoutes } from './events.js';
import { webhookRoutes } from './webhooks.js';
import { documentSchema } from './schemas.js';

export interface AdminOptions {
  /** The adminToken setting; empty disables the API (every path answers 404 ADMIN_DISABLED). */
  adminToken: string;
  logger: Logger;
  /** Shown as `info.version` in the OpenAPI document. */
  version?: string;
}

/** Every route of the management API, the OpenAPI document included. */
export function adminRouteTable(version = '0.0.0'): Route[] {
  const table: Route[] = [...organizationRoutes, ...keyRoutes, ...modelRoutes, ...eventRoutes, ...relayRoutes, ...overviewRoutes, ...webhookRoutes];
  table.push(
    defineRoute({
      method: 'GET',
      path: '/openapi.json',
      summary: 'This document',
      success: { status: 200, description: 'The OpenAPI 3.1 document', schema: documentSchema },
      errors: [],
      async handler() {
        return { status: 200, body: openApiDocument(table, version) };
      },
    }),
  );
  return table;
}

/** The management API as one gateway route: claims every path under `/admin/v1`. */
export function createAdminRoutes(gateway: Gateway, options: AdminOptions): HttpRoute {
  const { logger } = options;
  const table = adminRouteTable(options.version);
  const signer = options.adminToken === '' ? undefined : new SessionSigner(options.adminToken);

  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (url.pathname !== ADMIN_PREFIX && !url.pathname.startsWith(`${ADMIN_PREFIX}/`)) return false;
    if (!signer) {
      sendError(res, 'ADMIN_DISABLED', 'The management API is disabled: set adminToken (OFGW_ADMIN_TOKEN) to enable it', 404);
      return true;
    }
    void handle(req, res, url, signer);
    return true;
  };

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL, signer: SessionSigner): Promise<void> {
    const started = Date.now();
    const path = url.pathname.slice(ADMIN_PREFIX.length) || '/';
    let route: Route | undefined;
    let params: Record<string, string> | undefined;
    try {
      const credential = signer.authenticate(req);
      if (!credential) {
        throw new ApiError('UNAUTHORIZED', 'Missing or wrong admin token: send Authorization: Bearer <adminToken> (or sign in to /dashboard)');
      }
      // A cookie rides along on requests other sites trigger; the CSRF token cannot.
      if (credential.via === 'session' && req.method !== 'GET' && req.method !== 'HEAD' && !hasCsrfToken(req, credential.session)) {
        throw new ApiError('CSRF', `Missing or wrong ${CSRF_HEADER} header: a dashboard session must send the token from GET /dashboard/api/session with every change`);
      }
      const match = matchRoute(table, req.method ?? 'GET', path);
      if (!match) throw new ApiError('NOT_FOUND', `No such endpoint: ${req.method ?? ''} ${ADMIN_PREFIX}${path}`);
      if ('allowed' in match) {
        sendError(res, 'METHOD_NOT_ALLOWED', `${req.method ?? ''} is not allowed on ${ADMIN_PREFIX}${path} (allowed: ${match.allowed.join(', ')})`, 405, {
          allow: match.allowed.join(', '),
        });
        return;
      }
      route = match.route;
      params = match.params;
      const actor = actorOf(req, credential, gateway.clientIpOf(req));
      const reply = await route.run(req, { gateway, store: gateway.store.as(actor), actor, logger, params, search: url.searchParams });
      sendJson(res, reply.status, reply.body, reply.headers);
    } catch (err) {
      const known = asApiError(err);
      if (!known) {
        // Only the error's kind is logged: a message could quote input.
        logger.error({ err: { name: err instanceof Error ? err.name : typeof err }, method: req.method, path: url.pathname }, 'admin request failed');
      }
      if (res.headersSent) res.destroy();
      else if (!known) sendError(res, 'INTERNAL', 'Internal error', 500);
      // A body we stopped reading would otherwise be parsed as the next request.
      else sendApiError(res, known, known.code === 'BODY_TOO_LARGE' ? { connection: 'close' } : {});
    } finally {
      // One line per request for the audit trail: ids only, never a body.
      logger.info({ method: req.method, route: route?.path ?? path, params, status: res.statusCode, ms: Date.now() - started }, 'admin request');
    }
  }
}

/** The store's errors map one-to-one onto the API's codes. */
function asApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof StoreError) return new ApiError(err.code, err.message, err.issues);
  return undefined;
}
