/**
 * `GET /`: what someone who opens the gateway's address finds. A browser (it accepts
 * text/html) is sent on to the dashboard when it is enabled; anyone else — a script, curl,
 * or a browser while the dashboard is off — gets a small JSON index of the endpoints and,
 * while adminToken is empty, how to enable the dashboard and the management API.
 */
import type { IncomingMessage } from 'node:http';
import { ADMIN_PREFIX } from '../admin/openapi.js';
import { DASHBOARD_PREFIX, ENABLE_DASHBOARD } from '../dashboard/access.js';
import { sendText } from '../observability/respond.js';
import type { HttpRoute } from './server.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/** The index as JSON: paths only, so it never depends on a Host header. */
export function rootIndex(adminEnabled: boolean): Record<string, unknown> {
  return {
    service: 'ofgw',
    relay: { path: '/api/models/{model_id}/ws', about: 'WebSocket relay to one model; API key in the X-API-Key header or ?api_key=' },
    models: { path: '/api/models', about: "the API key's models (X-API-Key)" },
    health: { path: '/healthz', about: 'liveness' },
    ready: { path: '/readyz', about: 'readiness' },
    metrics: { path: '/metrics', about: 'Prometheus metrics' },
    dashboard: { path: DASHBOARD_PREFIX, enabled: adminEnabled },
    admin: { path: ADMIN_PREFIX, enabled: adminEnabled },
    ...(adminEnabled ? {} : { enable: `the dashboard and the management API are off: ${ENABLE_DASHBOARD}` }),
  };
}

function wantsHtml(req: IncomingMessage): boolean {
  return /\btext\/html\b/i.test(req.headers.accept ?? '');
}

/** The `/` route; every other path is left alone. */
export function createRootIndex(options: { adminToken: string }): HttpRoute {
  const adminEnabled = options.adminToken !== '';
  const body = JSON.stringify(rootIndex(adminEnabled), null, 2);
  return (req, res) => {
    if ((req.url ?? '/').split('?', 1)[0] !== '/') return false;
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') {
      const refusal = JSON.stringify({ error: `${method ?? ''} is not allowed on / (allowed: GET, HEAD)`, code: 'METHOD_NOT_ALLOWED' });
      sendText(res, 405, JSON_TYPE, refusal, method, { allow: 'GET, HEAD' });
      return true;
    }
    // `vary`: a cache must not hand the redirect to a script, or the index to a browser.
    if (adminEnabled && wantsHtml(req)) sendText(res, 302, 'text/plain; charset=utf-8', `See ${DASHBOARD_PREFIX}\n`, method, { location: DASHBOARD_PREFIX, vary: 'accept' });
    else sendText(res, 200, JSON_TYPE, `${body}\n`, method, { vary: 'accept' });
    return true;
  };
}
