/**
 * Where the dashboard is and how to turn it on, worded once for every place a newcomer may
 * look: `GET /`, the `gateway listening` log line, the sandbox banner and the page the
 * dashboard shows while it is off. It is on exactly when the management API is (adminToken).
 */

export const DASHBOARD_PREFIX = '/dashboard';

/** What to do while adminToken is empty. */
export const ENABLE_DASHBOARD = 'set OFGW_ADMIN_TOKEN (at least 32 characters, e.g. `openssl rand -hex 32`) and restart';

/**
 * The dashboard's address on the gateway at `baseUrl`, or, while it is off, how to enable it.
 * @example dashboardAccess('', 'http://127.0.0.1:8080') // 'off: set OFGW_ADMIN_TOKEN (…) and restart, then open http://127.0.0.1:8080/dashboard'
 */
export function dashboardAccess(adminToken: string, baseUrl: string): string {
  const url = `${baseUrl}${DASHBOARD_PREFIX}`;
  return adminToken === '' ? `off: ${ENABLE_DASHBOARD}, then open ${url}` : url;
}
