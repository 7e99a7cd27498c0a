/**
 * The dashboard without a browser: the built page and its headers, sign-in, the session
 * cookie's flags, the CSRF rule on the management API, the sign-in limit, and the disabled
 * dashboard when there is no admin token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SESSION_TTL_MS, SessionSigner } from '../../src/admin/auth.js';
import { SIGN_IN_FAILURE_BURST } from '../../src/dashboard/session-api.js';
import { ADMIN_TOKEN, cookiePair, signIn, startDashboardStack, type DashboardStack } from './dashboard-helpers.js';

describe('dashboard: static files', () => {
  let stack: DashboardStack;
  before(async () => {
    stack = await startDashboardStack();
  });
  after(() => stack.close());

  it('serves the page with no-cache and a strict CSP that allows the gateway\'s own WebSocket', async () => {
    const page = await stack.call('GET', '/dashboard');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const csp = page.headers.get('content-security-policy') ?? '';
    const host = new URL(stack.httpUrl).host;
    for (const directive of ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'", `connect-src 'self' ws://${host} wss://${host}`]) {
      assert.ok(csp.includes(directive), `CSP has ${directive}: ${csp}`);
    }
    assert.doesNotMatch(page.text, /<script>|<script [^>]*>[^<]/, 'no inline script');
    assert.doesNotMatch(page.text, /https?:\/\//, 'nothing from another origin');
  });

  it('serves the hashed assets as immutable with their content types; unknown assets are 404 JSON', async () => {
    const page = await stack.call('GET', '/dashboard/');
    const assets = [...page.text.matchAll(/(?:src|href)="(\/dashboard\/assets\/[^"]+)"/g)].map((m) => m[1] as string);
    assert.ok(assets.some((a) => a.endsWith('.js')) && assets.some((a) => a.endsWith('.css')), `assets: ${assets.join(', ')}`);
    for (const asset of assets) {
      const answer = await stack.call('GET', asset);
      assert.equal(answer.status, 200, asset);
      assert.equal(answer.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.match(answer.headers.get('content-type') ?? '', asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      assert.equal(answer.headers.get('x-content-type-options'), 'nosniff');
    }
    const missing = await stack.call('GET', '/dashboard/assets/nope-123.js');
    assert.equal(missing.status, 404);
    assert.equal(missing.json().code, 'NOT_FOUND');
    const icon = await stack.call('GET', '/dashboard/favicon.svg');
    assert.equal(icon.status, 200);
    assert.equal(icon.headers.get('content-type'), 'image/svg+xml');
  });

  it('answers page paths with the page (client-side routes) and never a file outside the build', async () => {
    const page = await stack.call('GET', '/dashboard/');
    for (const path of ['/dashboard/keys', '/dashboard/models?org=x', '/dashboard/playground/']) {
      const answer = await stack.call('GET', path);
      assert.equal(answer.status, 200, path);
      assert.equal(answer.text, page.text, path);
    }
    for (const path of ['/dashboard/assets/..%2f..%2fpackage.json', '/dashboard/..%2f..%2fpackage.json', '/dashboard/assets/%00.js']) {
      const answer = await stack.call('GET', path);
      assert.equal(answer.status, 404, path);
      assert.doesNotMatch(answer.text, /"name": "ofgw"/);
    }
    const post = await stack.call('POST', '/dashboard/keys', {});
    assert.equal(post.status, 405);
    assert.equal(post.json().code, 'METHOD_NOT_ALLOWED');
    assert.equal((await stack.call('GET', '/dashboard/api/nope')).status, 404);
    assert.equal((await stack.call('GET', '/dashboardx')).status, 404, 'not claimed by the dashboard');
  });
});

describe('dashboard: sessions and CSRF', () => {
  let stack: DashboardStack;
  before(async () => {
    stack = await startDashboardStack();
  });
  after(() => stack.close());

  it('a wrong token is refused with a clear error and no cookie', async () => {
    const wrong = await stack.call('POST', '/dashboard/api/session', { token: 'not-the-admin-token-0123456789abcdef' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json().code, 'UNAUTHORIZED');
    assert.match(wrong.json().error as string, /Wrong admin token/);
    assert.equal(wrong.headers.get('set-cookie'), null);
    const empty = await stack.call('POST', '/dashboard/api/session', {});
    assert.equal(empty.status, 400);
    assert.match(empty.json().error as string, /token: required/);
    assert.equal(empty.headers.get('set-cookie'), null);
  });

  it('sign-in sets an HttpOnly, SameSite=Strict cookie (Secure over https) and answers the CSRF token', async () => {
    const answer = await stack.call('POST', '/dashboard/api/session', { token: ADMIN_TOKEN });
    assert.equal(answer.status, 201);
    const cookie = answer.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^ofgw_session=[^;]+; /);
    for (const flag of ['HttpOnly', 'SameSite=Strict', 'Path=/', `Max-Age=${SESSION_TTL_MS / 1000}`]) assert.ok(cookie.split('; ').includes(flag), `${flag} in ${cookie}`);
    assert.ok(!cookie.includes('Secure'), 'plain http: no Secure flag');
    assert.ok(!cookie.includes(ADMIN_TOKEN));
    const body = answer.json<{ csrfToken: string; expiresAt: string }>();
    assert.match(body.csrfToken, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(!cookie.includes(body.csrfToken), 'the CSRF token is not in the cookie');
    const expires = Date.parse(body.expiresAt) - Date.now();
    assert.ok(expires > SESSION_TTL_MS - 60_000 && expires <= SESSION_TTL_MS, `expires in ${expires} ms`);

    const tls = await stack.call('POST', '/dashboard/api/session', { token: ADMIN_TOKEN }, { 'x-forwarded-proto': 'https' });
    assert.ok((tls.headers.get('set-cookie') ?? '').split('; ').includes('Secure'));

    const again = await stack.call('GET', '/dashboard/api/session', undefined, { cookie: cookiePair(answer) });
    assert.equal(again.status, 200);
    assert.equal(again.json().signedIn, true);
    assert.equal(again.json().csrfToken, body.csrfToken);
  });

  it('asking for the session while signed out is a 200 {"signedIn": false}, not an error (the browser logs every 401)', async () => {
    const answer = await stack.call('GET', '/dashboard/api/session');
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json(), { signedIn: false });
    assert.equal(answer.headers.get('cache-control'), 'no-store');
  });

  it('the management API takes the cookie; every change needs the CSRF token (403 CSRF otherwise)', async () => {
    const { cookie, csrfToken } = await signIn(stack);
    const list = await stack.call('GET', '/admin/v1/organizations', undefined, { cookie });
    assert.equal(list.status, 200);
    const bare = await stack.call('POST', '/admin/v1/organizations', { name: 'No CSRF' }, { cookie });
    assert.equal(bare.status, 403);
    assert.equal(bare.json().code, 'CSRF');
    assert.match(bare.json().error as string, /X-CSRF-Token/);
    const wrong = await stack.call('POST', '/admin/v1/organizations', { name: 'Wrong CSRF' }, { cookie, 'x-csrf-token': csrfToken.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) });
    assert.equal(wrong.status, 403);
    const other = await signIn(stack);
    const crossed = await stack.call('POST', '/admin/v1/organizations', { name: 'Other session\'s token' }, { cookie, 'x-csrf-token': other.csrfToken });
    assert.equal(crossed.status, 403, 'a CSRF token belongs to its own session');
    const ok = await stack.call('POST', '/admin/v1/organizations', { name: 'With CSRF' }, { cookie, 'x-csrf-token': csrfToken });
    assert.equal(ok.status, 201);
    const names = (await stack.store.listOrganizations()).map((o) => o.name);
    assert.ok(names.includes('With CSRF') && !names.includes('No CSRF') && !names.includes('Wrong CSRF'));
    // The Bearer token needs no CSRF token: it is never sent by a browser on its own.
    const bearer = await stack.call('POST', '/admin/v1/organizations', { name: 'Bearer' }, { authorization: `Bearer ${ADMIN_TOKEN}` });
    assert.equal(bearer.status, 201);
    // A wrong Bearer header is not rescued by a good cookie.
    const mixed = await stack.call('GET', '/admin/v1/organizations', undefined, { cookie, authorization: 'Bearer wrong' });
    assert.equal(mixed.status, 401);
  });

  it('a forged, expired or other-token session is refused', async () => {
    const { cookie } = await signIn(stack);
    const value = cookie.slice('ofgw_session='.length);
    const [expires, nonce, mac] = value.split('.');
    const later = `ofgw_session=${Number(expires) + 1000}.${nonce}.${mac}`;
    const otherToken = new SessionSigner('another-admin-token-0123456789abcdef0123').issue().cookieValue;
    const expired = new SessionSigner(ADMIN_TOKEN).issue(Date.now() - SESSION_TTL_MS - 1000).cookieValue;
    for (const forged of [later, `ofgw_session=${otherToken}`, `ofgw_session=${expired}`, 'ofgw_session=garbage']) {
      const answer = await stack.call('GET', '/admin/v1/organizations', undefined, { cookie: forged });
      assert.equal(answer.status, 401, forged);
      const session = await stack.call('GET', '/dashboard/api/session', undefined, { cookie: forged });
      assert.deepEqual([session.status, session.json()], [200, { signedIn: false }], forged);
    }
  });

  it('sign-out clears the cookie', async () => {
    const { cookie } = await signIn(stack);
    const answer = await stack.call('DELETE', '/dashboard/api/session', undefined, { cookie });
    assert.equal(answer.status, 204);
    const cleared = answer.headers.get('set-cookie') ?? '';
    assert.match(cleared, /^ofgw_session=; /);
    assert.ok(cleared.includes('Max-Age=0') && cleared.includes('HttpOnly'));
  });

  it('no log line holds the admin token or a session cookie', async () => {
    const { cookie, csrfToken } = await signIn(stack);
    await stack.call('POST', '/admin/v1/organizations', { name: 'Logged' }, { cookie, 'x-csrf-token': csrfToken });
    const text = stack.logs.lines.join('\n');
    assert.ok(text.includes('dashboard sign-in'), 'sign-ins are logged');
    for (const secret of [ADMIN_TOKEN, cookie.split('=')[1] ?? '', csrfToken]) assert.ok(!text.includes(secret));
  });
});

describe('dashboard: the sign-in limit', () => {
  let stack: DashboardStack;
  before(async () => {
    stack = await startDashboardStack();
  });
  after(() => stack.close());

  it(`after ${SIGN_IN_FAILURE_BURST} failed sign-ins an address waits (429 with Retry-After), even with the right token`, async () => {
    for (let i = 0; i < SIGN_IN_FAILURE_BURST; i++) {
      assert.equal((await stack.call('POST', '/dashboard/api/session', { token: `wrong-${i}` })).status, 401);
    }
    for (const token of ['wrong-again', ADMIN_TOKEN]) {
      const limited = await stack.call('POST', '/dashboard/api/session', { token });
      assert.equal(limited.status, 429);
      assert.equal(limited.json().code, 'RATE_LIMITED');
      assert.match(limited.json().error as string, /Too many failed sign-ins/);
      assert.ok(Number(limited.headers.get('retry-after')) >= 1);
      assert.equal(limited.headers.get('set-cookie'), null);
    }
    // The Bearer token on the management API is not behind this limit.
    assert.equal((await stack.call('GET', '/admin/v1/organizations', undefined, { authorization: `Bearer ${ADMIN_TOKEN}` })).status, 200);
  });
});

describe('dashboard: disabled without an admin token', () => {
  let stack: DashboardStack;
  before(async () => {
    stack = await startDashboardStack({ adminToken: '' });
  });
  after(() => stack.close());

  it('says so on the page and in the session API', async () => {
    const page = await stack.call('GET', '/dashboard');
    assert.equal(page.status, 404);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.text, /The dashboard is disabled/);
    assert.match(page.text, /OFGW_ADMIN_TOKEN/);
    const session = await stack.call('POST', '/dashboard/api/session', { token: 'x' });
    assert.equal(session.status, 404);
    assert.equal(session.json().code, 'ADMIN_DISABLED');
    assert.match(session.json().error as string, /OFGW_ADMIN_TOKEN/);
  });
});
