/**
 * The dashboard (issue 8): a Preact page built by Vite into `dist/dashboard`, served at
 * `/dashboard`, that runs the gateway through the management API with a session cookie.
 *
 *   /dashboard/api/session     sign in, who am I, sign out (./session-api.ts)
 *   /dashboard/assets/…        hashed build output: cached for good; 404 JSON when unknown
 *   /dashboard, /dashboard/…   the page (its client-side routes fall back to index.html)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { SessionSigner } from '../admin/auth.js';
import { sendError } from '../admin/http.js';
import type { HttpRoute } from '../gateway/server.js';
import type { Logger } from '../log.js';
import { DASHBOARD_PREFIX, ENABLE_DASHBOARD } from './access.js';
import { createSessionApi } from './session-api.js';
import { securityHeaders, sendNotFound, StaticFiles } from './static-files.js';

/** Where `vite build` writes the dashboard: `dist/dashboard`, beside this module's `dist/src`. */
export const DEFAULT_ASSETS_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url));

export interface DashboardOptions {
  /** The adminToken setting; empty disables the dashboard with the management API. */
  adminToken: string;
  logger: Logger;
  /** The trustForwardedFor setting: the sign-in limit's client IP. */
  trustForwardedFor: boolean;
  /** The built files; default {@link DEFAULT_ASSETS_DIR}. */
  assetsDir?: string;
}

/** The dashboard as one gateway route: claims `/dashboard` and every path under it. */
export function createDashboardRoutes(options: DashboardOptions): HttpRoute {
  const files = new StaticFiles(options.assetsDir ?? DEFAULT_ASSETS_DIR);
  const sessions =
    options.adminToken === ''
      ? undefined
      : createSessionApi({ signer: new SessionSigner(options.adminToken), logger: options.logger, trustForwardedFor: options.trustForwardedFor });

  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (path !== DASHBOARD_PREFIX && !path.startsWith(`${DASHBOARD_PREFIX}/`)) return false;
    const rest = path.slice(DASHBOARD_PREFIX.length);

    if (rest.startsWith('/api/')) {
      if (!sessions) sendError(res, 'ADMIN_DISABLED', DISABLED_TEXT, 404, securityHeaders(req));
      else if (rest === '/api/session') sessions(req, res);
      else sendError(res, 'NOT_FOUND', `No such dashboard endpoint: ${req.method ?? ''} ${path}`, 404, securityHeaders(req));
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(res, 'METHOD_NOT_ALLOWED', `${req.method ?? ''} is not allowed on ${path} (allowed: GET, HEAD)`, 405, { ...securityHeaders(req), allow: 'GET, HEAD' });
      return true;
    }
    if (!sessions) return sendPage(req, res, 404, DISABLED_PAGE);
    if (!files.built) return sendPage(req, res, 503, NOT_BUILT_PAGE);
    if (rest.startsWith('/assets/')) {
      if (!files.send(req, res, rest.slice(1), true)) sendNotFound(req, res, path);
      return true;
    }
    // A file at the top of the build (an icon), else a page of the client-side router.
    const last = rest.split('/').pop() ?? '';
    if (last.includes('.')) {
      if (!files.send(req, res, rest.slice(1), false)) sendNotFound(req, res, path);
      return true;
    }
    files.send(req, res, 'index.html', false);
    return true;
  };
}

const DISABLED_TEXT = `The dashboard and the management API are disabled: ${ENABLE_DASHBOARD}`;

const DISABLED_PAGE = `<h1>The dashboard is disabled</h1>
<p>It runs on the management API, which is off because this gateway has no admin token.</p>
<p>Set <code>OFGW_ADMIN_TOKEN</code> (at least 32 characters; <code>openssl rand -hex 32</code> makes one) and restart the gateway, then sign in here with that token.</p>`;

const NOT_BUILT_PAGE = `<h1>The dashboard was not built</h1>
<p>This gateway has no <code>dist/dashboard</code>. Run <code>npm run build</code> (it runs <code>vite build</code>) and reload.</p>`;

/** A small self-contained page (no script, no external style) for the two "cannot show it" cases. */
function sendPage(req: IncomingMessage, res: ServerResponse, status: number, body: string): true {
  const html = `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>ofgw dashboard</title><body>${body}</body></html>`;
  res.writeHead(status, {
    ...securityHeaders(req),
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(Buffer.byteLength(html)),
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : html);
  return true;
}
