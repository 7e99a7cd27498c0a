/**
 * Versioned migrations, listed in code rather than found by scanning a folder: the compiled
 * output lives in `dist/` and must not depend on where files land. Add `006_…` here.
 */
import { Migrator, type Kysely, type Migration } from 'kysely';
import type { DialectName } from '../dialect.js';
import * as initial from './001_initial.js';
import * as modelLifecycle from './002_model_lifecycle.js';
import * as operatorAudit from './003_operator_audit.js';
import * as modelDelivery from './004_model_delivery.js';
import * as webhooks from './005_webhooks.js';

interface VersionedMigration {
  up(db: Kysely<unknown>, dialect: DialectName): Promise<void>;
}

/** Names sort in the order Kysely applies them. */
const MIGRATIONS: Readonly<Record<string, VersionedMigration>> = {
  '001_initial': initial,
  '002_model_lifecycle': modelLifecycle,
  '003_operator_audit': operatorAudit,
  '004_model_delivery': modelDelivery,
  '005_webhooks': webhooks,
};

function migrationsFor(dialect: DialectName): Record<string, Migration> {
  return Object.fromEntries(
    Object.entries(MIGRATIONS).map(([name, m]) => [name, { up: (db: Kysely<unknown>) => m.up(db, dialect) }]),
  );
}

/**
 * Applies every migration not yet recorded in the database, each in a transaction (Kysely's
 * `kysely_migration` table records what ran), so opening an up-to-date database is a no-op.
 * Fails when the database holds a migration this build does not know (a newer ofgw wrote it).
 *
 * On PostgreSQL, `schema` is the schema the tables go to (the search_path's first): Kysely
 * then keeps its own tables there too and looks for them only there. Without it, Kysely
 * takes a `kysely_migration` table in any other schema of the database for its own.
 */
export async function migrateToLatest<DB>(db: Kysely<DB>, dialect: DialectName, schema?: string): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrationsFor(dialect) },
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  });
  const { error } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`database migration failed: ${reason}`, { cause: error });
  }
}
