/**
 * The operator audit trail (issue 13, point 16): a store seen as an actor (`as`) writes one
 * row with each operator change, in the change's own transaction, naming its target as it
 * was; the plain store (gateway-internal writes) writes none; the listing filters and pages.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Actor, AuditEntry, Store } from '../../src/store/types.js';
import { storeTest } from './temp-store.js';

const ALICE: Actor = { kind: 'cli', detail: 'alice@laptop' };
const API: Actor = { kind: 'api', detail: '10.0.0.5' };

/** The trail oldest first, as [action, target name] pairs. */
async function trail(store: Store, query = {}): Promise<[string, string | null][]> {
  return (await store.listAudit({ limit: 1000, ...query })).reverse().map((e) => [e.action, e.targetName]);
}

storeTest('every operator change made as an actor writes one audit row naming the target', async (db) => {
  const store = (await db.open()).as(ALICE);
  const org = await store.createOrganization({ name: 'Acme' });
  await store.renameOrganization(org.id, 'Acme Agency');
  await store.setSubscription(org.id, { status: 'active', plan: 'pro' });
  const key = await store.createApiKey(org.id, { name: 'crm' });
  const rotated = await store.rotateApiKey(key.id, { graceSeconds: 60 });
  await store.revokeApiKey(rotated.id);
  const model = await store.createModel(org.id, { name: 'M', wsUrl: 'wss://ws.example/ws3/1', wsToken: 'secret-token', cookie: 'sess=secret' });
  await store.updateModel(model.id, { name: 'Model M', wsToken: 'other-secret' });
  await store.setModelStatus(model.id, 'disconnected');
  await store.setModelStatus(model.id, 'connected');
  await store.recordRelayClose({ id: randomUUID(), orgId: org.id, modelId: model.id, keyId: key.id, node: 'node-1' });
  await store.removeModel(model.id);
  await store.deleteOrganization(org.id);

  const k = (prefix: string): string => `crm (${prefix}…)`;
  assert.deepEqual(await trail(store), [
    ['organization.created', 'Acme'],
    ['organization.renamed', 'Acme Agency'],
    ['subscription.changed', 'Acme Agency'],
    ['key.created', k(key.prefix)],
    ['key.rotated', k(key.prefix)],
    ['key.revoked', k(rotated.prefix)],
    ['model.created', 'M'],
    ['model.updated', 'Model M'],
    ['model.disconnected', 'Model M'],
    ['model.connected', 'Model M'],
    ['relay.closed', 'Model M'],
    ['model.removed', 'Model M'],
    ['organization.deleted', 'Acme Agency'],
  ]);
  const entries = await store.listAudit({ limit: 1000 });
  assert.ok(entries.every((e) => e.actorKind === 'cli' && e.actorDetail === 'alice@laptop'));
  assert.ok(entries.every((e) => e.orgId === org.id));
  assert.deepEqual(entries.map((e) => e.orgName).reverse().slice(0, 2), ['Acme', 'Acme Agency'], 'the name at the time');
  const byAction = (action: string): AuditEntry | undefined => entries.find((e) => e.action === action);
  assert.deepEqual(byAction('organization.renamed')?.details, { from: 'Acme', to: 'Acme Agency' });
  assert.deepEqual(byAction('subscription.changed')?.details, { status: 'active', plan: 'pro', previousStatus: 'none', previousPlan: null });
  assert.deepEqual(byAction('key.rotated')?.details, { newKeyId: rotated.id, newKeyPrefix: rotated.prefix, graceSeconds: 60, graceEndsAt: rotated.graceEndsAt });
  assert.deepEqual(byAction('model.updated')?.details, { fields: ['name', 'wsToken'], previousName: 'M' });
  assert.deepEqual(byAction('organization.deleted')?.details, { keys: 2, models: 0, subscription: 'active' });
  assert.equal(byAction('relay.closed')?.details?.key, k(key.prefix));
  // Never a secret: no key, token or cookie anywhere in the trail.
  const text = JSON.stringify(entries);
  for (const secret of [key.key, rotated.key, 'secret-token', 'other-secret', 'sess=secret']) assert.ok(!text.includes(secret), secret);
});

storeTest('names are kept after the target is removed', async (db) => {
  const store = (await db.open()).as(API);
  const org = await store.createOrganization({ name: 'Gone Inc' });
  const model = await store.createModel(org.id, { name: 'Gone model', wsUrl: 'wss://ws.example/ws3/1', wsToken: 't' });
  await store.deleteOrganization(org.id);
  const [removed] = await store.listAudit({ targetId: model.id });
  assert.equal(removed?.targetName, 'Gone model');
  assert.equal(removed?.orgName, 'Gone Inc');
  assert.equal((await store.listAudit({ orgId: org.id, action: 'organization.deleted' }))[0]?.targetName, 'Gone Inc');
});

storeTest('the plain store writes no audit rows: gateway-internal writes are not operator actions', async (db) => {
  const plain = await db.open();
  const org = await plain.createOrganization({ name: 'Internal' });
  const model = await plain.createModel(org.id, { wsUrl: 'wss://ws.example/ws3/1', wsToken: 't' });
  await plain.markCredentialsRejected(model.id, 'OnlyFans said no');
  await plain.as(ALICE).markCredentialsRejected(model.id, 'again');
  await plain.as(ALICE).refreshCredentials(model.id, { wsUrl: 'wss://ws.example/ws3/2', wsToken: 'fresh' });
  assert.deepEqual(await plain.listAudit(), []);
  await assert.rejects(plain.recordRelayClose({ id: randomUUID(), orgId: org.id, modelId: model.id, keyId: randomUUID(), node: 'n' }), /store\.as\(actor\)/);
});

storeTest('a change that does nothing writes no row; a refused one writes none either', async (db) => {
  const store = (await db.open()).as(ALICE);
  const org = await store.createOrganization({ name: 'Acme' });
  const key = await store.createApiKey(org.id);
  await store.revokeApiKey(key.id);
  await store.revokeApiKey(key.id);
  await store.renameOrganization(org.id, 'Acme');
  const model = await store.createModel(org.id, { wsUrl: 'wss://ws.example/ws3/1', wsToken: 't' });
  await store.setModelStatus(model.id, 'connected');
  await assert.rejects(store.createApiKey(randomUUID()), { code: 'NOT_FOUND' });
  await assert.rejects(store.renameOrganization(org.id, ''), { code: 'INVALID_INPUT' });
  assert.deepEqual((await trail(store)).map(([action]) => action), ['organization.created', 'key.created', 'key.revoked', 'model.created']);
});

storeTest('the audit row is in the change\'s transaction: if it cannot be written, the change is not made', async (db) => {
  const plain = await db.open();
  const org = await plain.createOrganization({ name: 'Acme' });
  const before = await plain.latestChangeSeq();
  await db.query('drop table audit_events');
  await assert.rejects(plain.as(ALICE).renameOrganization(org.id, 'Renamed'));
  await assert.rejects(plain.as(ALICE).createApiKey(org.id));
  assert.equal((await plain.getOrganization(org.id))?.name, 'Acme');
  assert.deepEqual(await plain.listApiKeys(org.id), []);
  assert.equal(await plain.latestChangeSeq(), before, 'no change row either');
});

storeTest('listAudit filters by organization, action or kind, actor, target and time, and pages with before', async (db) => {
  const plain = await db.open();
  const cli = plain.as(ALICE);
  const api = plain.as(API);
  const a = await cli.createOrganization({ name: 'A' });
  const b = await api.createOrganization({ name: 'B' });
  const keyA = await cli.createApiKey(a.id, { name: 'ka' });
  await api.createApiKey(b.id, { name: 'kb' });
  await api.revokeApiKey(keyA.id);

  assert.deepEqual(await trail(plain, { orgId: a.id }), [['organization.created', 'A'], ['key.created', `ka (${keyA.prefix}…)`], ['key.revoked', `ka (${keyA.prefix}…)`]]);
  assert.deepEqual((await trail(plain, { orgId: a.id.toUpperCase() })).length, 3, 'ids in any case');
  assert.deepEqual((await trail(plain, { action: 'key' })).map(([action]) => action), ['key.created', 'key.created', 'key.revoked']);
  assert.deepEqual((await trail(plain, { action: 'key.revoked' })).length, 1);
  assert.deepEqual((await trail(plain, { actorKind: 'api' })).map(([, name]) => name), ['B', 'kb (' + (await plain.listApiKeys(b.id))[0]?.prefix + '…)', `ka (${keyA.prefix}…)`]);
  assert.deepEqual((await trail(plain, { targetId: keyA.id })).length, 2);
  assert.deepEqual(await trail(plain, { orgId: 'not-a-uuid' }), []);

  const all = await plain.listAudit();
  assert.deepEqual(all.map((e) => e.seq), [...all.map((e) => e.seq)].sort((x, y) => y - x), 'newest first');
  const page = await plain.listAudit({ limit: 2 });
  assert.equal(page.length, 2);
  const next = await plain.listAudit({ limit: 2, before: page[1]?.seq });
  assert.deepEqual(next.map((e) => e.seq), all.slice(2, 4).map((e) => e.seq));

  const first = all[all.length - 1] as AuditEntry;
  assert.equal((await plain.listAudit({ since: first.at })).length, all.length);
  assert.equal((await plain.listAudit({ until: first.at })).length, 0);
  assert.equal((await plain.listAudit({ since: '2999-01-01' })).length, 0);
});

storeTest('listAudit and as() validate their input and name the field', async (db) => {
  const store = await db.open();
  await assert.rejects(store.listAudit({ action: 'key.exploded' }), { code: 'INVALID_INPUT', message: /^action must be one of/ });
  await assert.rejects(store.listAudit({ actorKind: 'robot' }), { code: 'INVALID_INPUT', message: /^actorKind must be one of cli, cli-remote, api, dashboard/ });
  await assert.rejects(store.listAudit({ since: 'yesterday' }), { code: 'INVALID_INPUT', message: /^since must be an ISO 8601 date/ });
  await assert.rejects(store.listAudit({ limit: 0 }), { code: 'INVALID_INPUT', message: /^limit must be a whole number from 1 to 1000/ });
  await assert.rejects(store.listAudit({ before: 0 }), { code: 'INVALID_INPUT', message: /^before must be a whole number from 1/ });
  assert.throws(() => store.as({ kind: 'root' as Actor['kind'], detail: null }), { code: 'INVALID_INPUT', message: /^kind must be one of/ });
  // A detail is informational text: control characters become spaces, length is bounded.
  const view = store.as({ kind: 'cli-remote', detail: `eve\n\u001b[31m@host${'x'.repeat(300)}` });
  await view.createOrganization({ name: 'X' });
  const [entry] = await store.listAudit();
  assert.equal(entry?.actorDetail?.length, 200);
  assert.match(entry?.actorDetail ?? '', /^eve \[31m@hostx+$/);
});
