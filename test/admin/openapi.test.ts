/**
 * The OpenAPI document and the router are built from one table; this keeps them honest:
 * every routed method is documented, every documented one is routed, and any other method
 * on a documented path answers 405.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminRouteTable } from '../../src/admin/index.js';
import { matchRoute } from '../../src/admin/router.js';
import { TestClient } from '../helpers.js';
import { startAdminStack, type AdminStack, type Answer } from './admin-helpers.js';

type Property = { enum?: string[]; description?: string; type?: string };
interface ObjectSchema {
  properties: Record<string, Property>;
  required?: string[];
}

interface Doc {
  openapi: string;
  security: unknown[];
  components: {
    securitySchemes: Record<string, { type: string; scheme?: string; in?: string; name?: string }>;
    schemas: Record<string, ObjectSchema>;
  };
  paths: Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: unknown; parameters: { name: string; in: string }[] }>>;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const SAMPLE_ID = '00000000-0000-4000-8000-000000000000';

describe('OpenAPI document', () => {
  let stack: AdminStack;
  let doc: Doc;
  before(async () => {
    stack = await startAdminStack();
    const answer = await stack.admin('GET', '/openapi.json');
    assert.equal(answer.status, 200);
    doc = answer.json<Doc>();
  });
  after(async () => {
    await stack.close();
  });

  it('is OpenAPI 3.1 with the bearer scheme and the dashboard session cookie', () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(doc.components.securitySchemes.bearerAuth, { ...doc.components.securitySchemes.bearerAuth, type: 'http', scheme: 'bearer' });
    assert.deepEqual(doc.components.securitySchemes.dashboardSession, { ...doc.components.securitySchemes.dashboardSession, type: 'apiKey', in: 'cookie', name: 'ofgw_session' });
    assert.deepEqual(doc.security, [{ bearerAuth: [] }, { dashboardSession: [] }]);
  });

  it('documents every route in the table, with its body and path parameters', () => {
    const table = adminRouteTable();
    for (const route of table) {
      const op = doc.paths[route.path]?.[route.method.toLowerCase()];
      assert.ok(op, `${route.method} ${route.path} is not documented`);
      assert.ok(op.responses[String(route.success.status)], `${route.method} ${route.path}: no success response`);
      assert.ok(op.responses['401'], `${route.method} ${route.path}: no 401`);
      assert.equal(op.requestBody !== undefined, route.body !== undefined, `${route.method} ${route.path}: request body`);
      assert.deepEqual(op.parameters.filter((p) => p.in === 'path').map((p) => p.name), route.params);
    }
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    assert.equal(documented.length, table.length);
  });

  it('describes a model\'s delivery: in every model answer, and accepted by add and update', () => {
    const model = doc.components.schemas.Model;
    assert.deepEqual(model?.properties.delivery?.enum, ['relay', 'session']);
    assert.match(model?.properties.delivery?.description ?? '', /session/);
    assert.ok(model?.required?.includes('delivery'), 'every model answer has it');
    const bodyOf = (path: string, method: string): ObjectSchema => {
      const body = doc.paths[path]?.[method]?.requestBody as { content: { 'application/json': { schema: ObjectSchema } } } | undefined;
      const schema = body?.content['application/json'].schema;
      assert.ok(schema, `${method} ${path} has a JSON body`);
      return schema;
    };
    for (const [path, method] of [['/organizations/{id}/models', 'post'], ['/models/{id}', 'patch']] as const) {
      const body = bodyOf(path, method);
      assert.deepEqual(body.properties.delivery?.enum, ['relay', 'session'], `${method} ${path}`);
      assert.match(body.properties.delivery?.description ?? '', /default relay/);
      assert.ok(!(body.required ?? []).includes('delivery'), `${method} ${path}: delivery is optional`);
    }
  });

  it('every documented path and method is routed; other methods get 405', async () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      const concrete = path.replace(/\{\w+\}/g, SAMPLE_ID);
      for (const method of METHODS) {
        const answer = await stack.admin(method, concrete);
        const code = answer.status === 204 ? undefined : answer.json().code;
        if (method.toLowerCase() in ops) {
          // Routed: any answer but "wrong method" or "no such endpoint" (404s for the sample id are fine).
          assert.notEqual(code, 'METHOD_NOT_ALLOWED', `${method} ${path} is documented but not routed`);
          assert.doesNotMatch(answer.text, /No such endpoint/, `${method} ${path} is documented but not routed`);
        } else {
          assert.equal(answer.status, 405, `${method} ${path}: ${answer.text}`);
          assert.equal(code, 'METHOD_NOT_ALLOWED');
          const allow = (answer.headers.get('allow') ?? '').split(', ').sort();
          assert.deepEqual(allow, Object.keys(ops).map((m) => m.toUpperCase()).sort());
        }
      }
    }
  });

  it('every route\'s success answer has exactly the documented shape', async () => {
    const table = adminRouteTable();
    const checked = new Set<string>();
    const call = async (method: string, path: string, body?: unknown): Promise<Answer> => {
      const answer = await stack.admin(method, path, body);
      const match = matchRoute(table, method, path.split('?', 1)[0] ?? '');
      assert.ok(match && 'route' in match, `${method} ${path} is not routed`);
      assert.equal(answer.status, match.route.success.status, `${method} ${path}: ${answer.text}`);
      // Strict schemas: an undocumented field fails as much as a missing one.
      if (match.route.success.schema) match.route.success.schema.parse(answer.json());
      checked.add(`${match.route.method} ${match.route.path}`);
      return answer;
    };
    const org = (await call('POST', '/organizations', { name: 'Doc' })).json<{ id: string }>();
    await call('PATCH', `/organizations/${org.id}`, { name: 'Doc renamed' });
    await call('GET', '/organizations');
    await call('GET', `/organizations/${org.id}`);
    await call('GET', `/organizations/${org.id}/subscription`);
    await call('PUT', `/organizations/${org.id}/subscription`, { status: 'active' });
    await call('GET', `/organizations/${org.id}/subscription`);
    const key = (await call('POST', `/organizations/${org.id}/keys`, { name: 'doc' })).json<{ id: string; key: string }>();
    await call('GET', `/organizations/${org.id}/keys`);
    const model = (
      await call('POST', `/organizations/${org.id}/models`, { wsUrl: stack.sim.wsUrl(), wsToken: stack.wsToken, proxyUrl: 'http://u:p@127.0.0.1:1' })
    ).json<{ id: string }>();
    await call('PATCH', `/models/${model.id}`, { proxyUrl: null });
    assert.equal((await call('PATCH', `/models/${model.id}`, { delivery: 'session' })).json().delivery, 'session');
    await call('GET', `/organizations/${org.id}/models`);
    await call('GET', '/models');
    await call('GET', `/models/${model.id}`);
    const client = new TestClient(`${stack.wsUrl}/api/models/${model.id}/ws`, { headers: { 'X-API-Key': key.key } });
    await client.confirmed();
    const relays = (await call('GET', '/relays')).json<{ id: string }[]>();
    const nodes = (await call('GET', '/nodes')).json<{ self: boolean; relays: number }[]>();
    // With the session model above in the table of session models.
    assert.equal((await call('GET', '/overview')).json<{ sessionModels: { id: string }[] }>().sessionModels[0]?.id, model.id);
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0]?.self, true);
    assert.equal(nodes[0]?.relays, 1);
    await call('DELETE', `/relays/${relays[0]?.id ?? ''}`);
    await client.closed;
    await call('POST', `/models/${model.id}/disconnect`);
    await call('POST', `/models/${model.id}/connect`, {});
    await call('GET', `/models/${model.id}/events`);
    const trail = (await call('GET', `/events?orgId=${org.id}&limit=2`)).json<{ seq: number }[]>();
    assert.equal(trail.length, 2);
    await call('GET', `/events?before=${trail[1]?.seq ?? 1}&action=model&actor=api`);
    const lifecycle = (await call('GET', `/model-events?orgId=${org.id}&limit=2`)).json<{ seq: number }[]>();
    assert.equal(lifecycle.length, 2);
    const hook = (await call('POST', `/organizations/${org.id}/webhooks`, { url: 'https://hooks.example.com/in', events: ['onlyfans.*'] })).json<{ id: string }>();
    await call('GET', `/organizations/${org.id}/webhooks`);
    await call('GET', `/webhooks?orgId=${org.id}`);
    await call('GET', `/webhooks/${hook.id}`);
    await call('PATCH', `/webhooks/${hook.id}`, { enabled: false });
    await call('POST', `/webhooks/${hook.id}/rotate-secret`);
    const test = (await call('POST', `/webhooks/${hook.id}/test`)).json<{ id: string }>();
    await call('GET', `/webhooks/${hook.id}/deliveries?status=pending&limit=5`);
    await call('GET', `/deliveries/${test.id}`);
    await call('POST', `/deliveries/${test.id}/redeliver`);
    await call('DELETE', `/webhooks/${hook.id}`);
    await call('DELETE', `/models/${model.id}`);
    const rotated = (await call('POST', `/keys/${key.id}/rotate`, { graceSeconds: 60 })).json<{ id: string }>();
    await call('POST', `/keys/${rotated.id}/revoke`);
    await call('DELETE', `/organizations/${org.id}`);
    await call('GET', '/openapi.json');
    const unchecked = table.map((r) => `${r.method} ${r.path}`).filter((r) => !checked.has(r));
    assert.deepEqual(unchecked, []);
  });
});
