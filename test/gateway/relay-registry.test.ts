/** The registry's per-model counts, which the per-model limits read instead of scanning. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Admission } from '../../src/gateway/admission.js';
import { RelayRegistry, type ModelMembership } from '../../src/gateway/relay-registry.js';
import type { TrackedConnection } from '../../src/gateway/tracked-connection.js';

function member(modelId: string, delivery: Admission['delivery'], connection?: TrackedConnection): ModelMembership {
  const admission: Admission = { orgId: 'org', key: { id: 'key', expiresAt: null }, modelId, plan: null, delivery, target: null };
  const m: ModelMembership = {
    admission,
    connection: connection ?? ({ memberships: () => [m] } as unknown as TrackedConnection),
    slotId: `${modelId}-${Math.random()}`,
    fail: () => {},
    deliveryChanged: () => {},
    keyExpiryChanged: () => {},
  };
  return m;
}

test('countForModel follows index, unindex and untrack per delivery mode, and never double counts', () => {
  const registry = new RelayRegistry();
  const r1 = member('m1', 'relay');
  const r2 = member('m1', 'relay');
  const s1 = member('m1', 'session');
  const other = member('m2', 'session');
  for (const m of [r1, r2, s1, other]) registry.index(m);
  registry.index(r1); // indexing twice counts once
  assert.equal(registry.countForModel('m1', 'relay'), 2);
  assert.equal(registry.countForModel('m1', 'session'), 1);
  assert.equal(registry.countForModel('m2', 'session'), 1);
  assert.equal(registry.countForModel('m3', 'relay'), 0);
  registry.unindex(r1);
  registry.unindex(r1); // a second unindex takes nothing more
  assert.equal(registry.countForModel('m1', 'relay'), 1);
  registry.untrack(r2.connection);
  registry.untrack(s1.connection);
  assert.equal(registry.countForModel('m1', 'relay'), 0);
  assert.equal(registry.countForModel('m1', 'session'), 0);
  assert.equal(registry.forModel('m1'), undefined);
  // Counts match a scan of the index after random churn.
  const live = new Set<ModelMembership>();
  for (let i = 0; i < 2000; i++) {
    if (live.size > 0 && i % 3 === 0) {
      const m = [...live][i % live.size] as ModelMembership;
      registry.unindex(m);
      live.delete(m);
    } else {
      const m = member(`m${i % 7}`, i % 2 ? 'relay' : 'session');
      registry.index(m);
      live.add(m);
    }
  }
  for (let k = 0; k < 7; k++) {
    for (const d of ['relay', 'session'] as const) {
      const scanned = [...(registry.forModel(`m${k}`) ?? [])].filter((m) => m.admission?.delivery === d).length;
      assert.equal(registry.countForModel(`m${k}`, d), scanned, `m${k} ${d}`);
    }
  }
});
