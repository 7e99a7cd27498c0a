/**
 * A model's delivery mode (sessions-contract.md §1): `relay`, what every existing model has
 * done so far and the default, or `session`. The CHECK keeps a hand-edited row (or an older
 * build's typo) from holding a mode no node knows how to serve.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('models')
    .addColumn('delivery', 'text', (col) =>
      col.notNull().defaultTo('relay').check(sql`delivery in ('relay', 'session')`),
    )
    .execute();
  // Each node lists the session models on every reconcile; most models stay in relay mode.
  await db.schema.createIndex('models_delivery_idx').on('models').column('delivery').execute();
}
