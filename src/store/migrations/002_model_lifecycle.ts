/**
 * Model lifecycle: the rejected-credentials state, the masked proxy URL shown in listings
 * (the real one is encrypted from now on; existing plaintext is encrypted on open, where the
 * keyring is known), and the `model_events` audit trail.
 */
import type { Kysely } from 'kysely';
import { serialPrimaryKey, type DialectName } from '../dialect.js';

export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  // One column per statement: SQLite's ALTER TABLE adds one at a time.
  for (const column of ['ws_credentials_rejected_at', 'ws_credentials_rejected_reason', 'proxy_url_masked']) {
    await db.schema.alterTable('models').addColumn(column, 'text').execute();
  }

  // No foreign key to models: the trail must survive `model remove`.
  await db.schema
    .createTable('model_events')
    .addColumn('seq', ...serialPrimaryKey(dialect))
    .addColumn('model_id', 'text', (col) => col.notNull())
    .addColumn('org_id', 'text', (col) => col.notNull())
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('reason', 'text')
    .addColumn('at', 'text', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('model_events_model_id_seq_idx').on('model_events').columns(['model_id', 'seq']).execute();
}
