/**
 * Webhooks (sessions-contract.md §6): an organization's endpoints, the deliveries kept for
 * them (the outbox every node works from) with each attempt, and the per-model cursor of
 * session events already turned into deliveries.
 *
 * Deliveries are keyed by their `webhook-id` (`msg_…`), derived from the endpoint and the
 * event, so enqueueing the same event twice (two holders of a model during a takeover, a
 * restart re-reading the log) is one row: `insert … on conflict do nothing`.
 */
import { sql, type Kysely } from 'kysely';
import { serialPrimaryKey, type DialectName } from '../dialect.js';

export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  await db.schema
    .createTable('webhook_endpoints')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('org_id', 'text', (col) => col.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('url', 'text', (col) => col.notNull())
    // JSON arrays; null: every event type, every model.
    .addColumn('event_types', 'text')
    .addColumn('model_ids', 'text')
    .addColumn('enabled', 'integer', (col) => col.notNull().defaultTo(1))
    .addColumn('disabled_reason', 'text')
    // Encrypted with the store's keyring (src/secrets), bound to the organization and endpoint.
    .addColumn('secret', 'text', (col) => col.notNull())
    .addColumn('previous_secret', 'text')
    .addColumn('previous_secret_until', 'text')
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('webhook_endpoints_org_id_idx').on('webhook_endpoints').column('org_id').execute();

  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('endpoint_id', 'text', (col) => col.notNull().references('webhook_endpoints.id').onDelete('cascade'))
    .addColumn('org_id', 'text', (col) => col.notNull())
    .addColumn('model_id', 'text')
    .addColumn('type', 'text', (col) => col.notNull())
    // The exact body signed and sent on every attempt.
    .addColumn('payload', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull().check(sql`status in ('pending', 'delivered', 'failed')`))
    .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
    // Null once delivered or failed.
    .addColumn('next_attempt_at', 'text')
    // The node sending it now, until when; an expired claim (a killed node) is free again.
    .addColumn('claimed_by', 'text')
    .addColumn('claimed_until', 'text')
    .addColumn('last_status_code', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .execute();
  // The workers' question: pending and due, oldest due first.
  await db.schema.createIndex('webhook_deliveries_due_idx').on('webhook_deliveries').columns(['status', 'next_attempt_at']).execute();
  // The delivery log: an endpoint's deliveries, newest first.
  await db.schema.createIndex('webhook_deliveries_endpoint_idx').on('webhook_deliveries').columns(['endpoint_id', 'created_at']).execute();

  await db.schema
    .createTable('webhook_attempts')
    .addColumn('seq', ...serialPrimaryKey(dialect))
    .addColumn('delivery_id', 'text', (col) => col.notNull().references('webhook_deliveries.id').onDelete('cascade'))
    .addColumn('node', 'text', (col) => col.notNull())
    .addColumn('at', 'text', (col) => col.notNull())
    .addColumn('status_code', 'integer')
    .addColumn('error', 'text')
    .addColumn('latency_ms', 'integer', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('webhook_attempts_delivery_idx').on('webhook_attempts').columns(['delivery_id', 'seq']).execute();

  // No foreign key to models: a cursor is harmless after a removal, and removal must not wait on it.
  await db.schema
    .createTable('webhook_intake')
    .addColumn('model_id', 'text', (col) => col.primaryKey())
    .addColumn('last_event_id', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .execute();
}
