/**
 * A model's delivery mode (issue 14, point 1; sessions-contract.md §1): `relay` by default,
 * `session` on request; a switch is a change-feed row, a `delivery_changed` lifecycle event
 * and, made as an actor, an audit row with from and to; the same mode again writes nothing.
 * The database itself refuses a mode no node knows.
 */
import assert from 'node:assert/strict';
import { StoreError } from '../../src/store/errors.js';
import type { Actor, DeliveryMode, NewModel, Store } from '../../src/store/types.js';
import { DELIVERY_MODES } from '../../src/store/types.js';
import { storeTest, type TempDatabase } from './temp-store.js';

const ALICE: Actor = { kind: 'cli', detail: 'alice@laptop' };
const creds: NewModel = { name: 'Model A', wsUrl: 'wss://ws2.onlyfans.com/ws3/', wsToken: 'tok-123' };

async function setup(db: TempDatabase, delivery?: DeliveryMode) {
  const store = await db.open();
  const org = await store.createOrganization({ name: 'Acme' });
  const model = await store.createModel(org.id, delivery === undefined ? creds : { ...creds, delivery });
  return { store, org, model };
}

/** The store error a bad delivery value must give: the field, the allowed values, not the value. */
function badDelivery(error: unknown): boolean {
  assert.ok(error instanceof StoreError, String(error));
  assert.equal(error.code, 'INVALID_INPUT');
  assert.equal(error.message, 'delivery must be one of relay, session');
  assert.deepEqual(error.issues.map((issue) => issue.field), ['delivery']);
  return true;
}

storeTest('a model is in relay mode unless created in session mode', async (db) => {
  assert.deepEqual(DELIVERY_MODES, ['relay', 'session']);
  const { store, org, model } = await setup(db);
  assert.equal(model.delivery, 'relay');
  const session = await store.createModel(org.id, { ...creds, delivery: 'session' });
  assert.equal(session.delivery, 'session');
  assert.equal((await store.getModel(session.id))?.delivery, 'session');
  assert.deepEqual((await store.listModels(org.id)).map((m) => m.delivery), ['relay', 'session']);
});

storeTest('createModel and updateModel refuse an unknown delivery, naming the field and the values', async (db) => {
  const { store, org, model } = await setup(db);
  const seq = await store.latestChangeSeq();
  await assert.rejects(store.createModel(org.id, { ...creds, delivery: 'webhook' as DeliveryMode }), badDelivery);
  await assert.rejects(store.updateModel(model.id, { delivery: 'Session' as DeliveryMode }), badDelivery);
  await assert.rejects(store.updateModel(model.id, { delivery: null as unknown as DeliveryMode }), badDelivery);
  assert.equal(await store.latestChangeSeq(), seq, 'nothing written');
  assert.equal((await store.listModels(org.id)).length, 1);
});

storeTest('switching delivery writes a model change row and a delivery_changed event, each way', async (db) => {
  const { store, model } = await setup(db);
  const seq = await store.latestChangeSeq();
  const session = await store.updateModel(model.id, { delivery: 'session' });
  assert.equal(session.delivery, 'session');
  assert.ok(session.updatedAt >= model.updatedAt);
  const changes = await store.changesSince(seq);
  assert.deepEqual(changes.map((c) => [c.kind, c.entityId]), [['model', model.id]]);

  const back = await store.updateModel(model.id, { delivery: 'relay' });
  assert.equal(back.delivery, 'relay');
  const events = await store.listModelEvents(model.id);
  assert.deepEqual(events.map((e) => [e.kind, e.reason]), [
    ['delivery_changed', 'session → relay'],
    ['delivery_changed', 'relay → session'],
    ['created', null],
  ]);
  assert.equal(await store.latestChangeSeq(), seq + 2);
  // Nothing else moved.
  const { delivery: _a, updatedAt: _b, ...rest } = back;
  const { delivery: _c, updatedAt: _d, ...before } = model;
  assert.deepEqual(rest, before);
});

storeTest('a patch that sets the delivery it already has writes nothing', async (db) => {
  const { store, model } = await setup(db, 'session');
  const seq = await store.latestChangeSeq();
  const same = await store.as(ALICE).updateModel(model.id, { delivery: 'session' });
  assert.deepEqual(same, model, 'no write: updatedAt unchanged');
  assert.equal(await store.latestChangeSeq(), seq, 'no change row');
  assert.deepEqual((await store.listModelEvents(model.id)).map((e) => e.kind), ['created']);
  assert.deepEqual(await store.listAudit({ action: 'model.updated' }), [], 'no audit row');
});

storeTest('an update that renews credentials and switches delivery records both events, once', async (db) => {
  const { store, model } = await setup(db);
  const seq = await store.latestChangeSeq();
  const updated = await store.updateModel(model.id, { wsToken: 'tok-NEW', delivery: 'session' });
  assert.equal(updated.delivery, 'session');
  assert.deepEqual((await store.listModelEvents(model.id)).map((e) => [e.kind, e.reason]), [
    ['delivery_changed', 'relay → session'],
    ['credentials_updated', 'changed: wsToken'],
    ['created', null],
  ]);
  assert.equal(await store.latestChangeSeq(), seq + 1, 'one change row for one update');
  assert.equal((await store.getModelCredentials(model.id))?.wsToken, 'tok-NEW');
});

storeTest('a name change with the same delivery records the name only', async (db) => {
  const { store, model } = await setup(db);
  const actor = store.as(ALICE);
  const renamed = await actor.updateModel(model.id, { name: 'Model B', delivery: 'relay' });
  assert.equal(renamed.name, 'Model B');
  assert.deepEqual((await store.listModelEvents(model.id)).map((e) => e.kind), ['created']);
  const [entry] = await store.listAudit({ action: 'model.updated' });
  assert.deepEqual(entry?.details, { fields: ['name'], previousName: 'Model A' });
});

storeTest('the operator trail records a delivery switch with its from and to', async (db) => {
  const { store, model } = await setup(db);
  const actor = store.as(ALICE);
  await actor.updateModel(model.id, { delivery: 'session' });
  await actor.updateModel(model.id, { delivery: 'relay' });
  const entries = await store.listAudit({ action: 'model.updated' });
  assert.deepEqual(
    entries.map((e) => [e.actorKind, e.actorDetail, e.targetId, e.targetName, e.details]),
    [
      ['cli', 'alice@laptop', model.id, 'Model A', { fields: ['delivery'], previousDelivery: 'session', delivery: 'relay' }],
      ['cli', 'alice@laptop', model.id, 'Model A', { fields: ['delivery'], previousDelivery: 'relay', delivery: 'session' }],
    ],
  );
});

storeTest('another process on the same database sees a delivery switch through the change feed', async (db) => {
  const { store, model } = await setup(db);
  const node = await db.open();
  const seen = await node.latestChangeSeq();
  await store.updateModel(model.id, { delivery: 'session' });
  const [change, ...more] = await node.changesSince(seen);
  assert.deepEqual(more, []);
  assert.equal(change?.kind, 'model');
  assert.equal(change?.entityId, model.id);
  assert.equal((await node.getModel(model.id))?.delivery, 'session');
});

storeTest('listSessionModels lists every session model of any status and organization, and only those', async (db) => {
  const { store, org, model } = await setup(db);
  assert.deepEqual(await store.listSessionModels(), []);
  const other = await store.createOrganization({ name: 'Other' });
  const a = await store.createModel(org.id, { ...creds, delivery: 'session' });
  const b = await store.createModel(other.id, { ...creds, name: 'B', delivery: 'session' });
  await store.setModelStatus(b.id, 'disconnected');
  await store.updateModel(model.id, { delivery: 'session' });
  // Rows made in the same millisecond order by id: compare the sets.
  assert.deepEqual((await store.listSessionModels()).map((m) => m.id).sort(), [model.id, a.id, b.id].sort());
  assert.equal((await store.listSessionModels()).find((m) => m.id === b.id)?.status, 'disconnected');

  await store.updateModel(a.id, { delivery: 'relay' });
  await store.removeModel(model.id);
  assert.deepEqual((await store.listSessionModels()).map((m) => m.id), [b.id]);
  await store.deleteOrganization(other.id);
  assert.deepEqual(await store.listSessionModels(), []);
});

storeTest('the session code can record upstream_down and upstream_restored events', async (db) => {
  const { store, model } = await setup(db, 'session');
  const seq = await store.latestChangeSeq();
  await store.recordModelEvent(model.id, 'session.upstream_down', 'upstream closed 1006');
  await store.recordModelEvent(model.id, 'session.upstream_restored', 'down for 4 s');
  assert.deepEqual((await store.listModelEvents(model.id)).map((e) => [e.kind, e.reason]), [
    ['session.upstream_restored', 'down for 4 s'],
    ['session.upstream_down', 'upstream closed 1006'],
    ['created', null],
  ]);
  assert.equal(await store.latestChangeSeq(), seq, 'no change row: the model did not change');
  await assert.rejects(store.recordModelEvent(model.id, 'session.exploded' as 'session.upstream_down', 'x'), { code: 'INVALID_INPUT', message: /^kind must be one of .*delivery_changed, session\.upstream_down, session\.upstream_restored$/ });
});

storeTest('the database refuses a delivery other than relay or session, and defaults to relay', async (db) => {
  const { store, org, model } = await setup(db);
  await assert.rejects(db.query("update models set delivery = 'webhook' where id = ?", [model.id]), /check/i);
  await assert.rejects(db.query('update models set delivery = null where id = ?', [model.id]), /null/i);
  const at = new Date().toISOString();
  const id = '00000000-0000-4000-8000-000000000001';
  await db.query("insert into models (id, org_id, status, created_at, updated_at) values (?, ?, 'connected', ?, ?)", [id, org.id, at, at]);
  assert.equal((await store.getModel(id))?.delivery, 'relay');
});

storeTest('migration 004 gives models that existed before it relay delivery', async (db) => {
  const first = await db.open();
  const org = await first.createOrganization({ name: 'Acme' });
  await first.close();
  // Back to the schema of migration 003, with a model written by that version.
  for (const table of ['webhook_attempts', 'webhook_deliveries', 'webhook_intake', 'webhook_endpoints']) await db.query(`drop table ${table}`);
  await db.query("delete from kysely_migration where name = '005_webhooks'");
  await db.query('drop index models_delivery_idx');
  await db.query('alter table models drop column delivery');
  await db.query("delete from kysely_migration where name = '004_model_delivery'");
  const at = new Date().toISOString();
  const id = '00000000-0000-4000-8000-000000000002';
  await db.query("insert into models (id, org_id, status, created_at, updated_at) values (?, ?, 'disconnected', ?, ?)", [id, org.id, at, at]);

  const store: Store = await db.open();
  const model = await store.getModel(id);
  assert.equal(model?.delivery, 'relay');
  assert.equal(model?.status, 'disconnected');
  assert.equal((await store.updateModel(id, { delivery: 'session' })).delivery, 'session');
});
