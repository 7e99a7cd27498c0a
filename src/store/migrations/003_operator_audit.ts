/**
 * The operator audit trail (`audit_events`) and key rotation's link from the old key to its
 * replacement (`api_keys.replaced_by`; the grace period's end is the old key's `expires_at`).
 */
import type { Kysely } from 'kysely';
import { serialPrimaryKey, type DialectName } from '../dialect.js';

export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  await db.schema.alterTable('api_keys').addColumn('replaced_by', 'text').execute();

  // No foreign keys: the trail must survive the organization, key or model it names.
  await db.schema
    .createTable('audit_events')
    .addColumn('seq', ...serialPrimaryKey(dialect))
    .addColumn('at', 'text', (col) => col.notNull())
    .addColumn('actor_kind', 'text', (col) => col.notNull())
    .addColumn('actor_detail', 'text')
    .addColumn('action', 'text', (col) => col.notNull())
    .addColumn('org_id', 'text')
    .addColumn('org_name', 'text')
    .addColumn('target_kind', 'text', (col) => col.notNull())
    .addColumn('target_id', 'text', (col) => col.notNull())
    .addColumn('target_name', 'text')
    .addColumn('details', 'text')
    .execute();
  // The listing's filters, each walked newest first.
  await db.schema.createIndex('audit_events_org_id_seq_idx').on('audit_events').columns(['org_id', 'seq']).execute();
  await db.schema.createIndex('audit_events_target_id_seq_idx').on('audit_events').columns(['target_id', 'seq']).execute();
}
