/**
 * Kysely table types. Columns are snake_case and use only types both SQLite and
 * PostgreSQL store the same way: text (ids are UUID text, timestamps ISO 8601 UTC text,
 * sortable as text) and integer (`sandbox` is 0/1, because better-sqlite3 cannot bind
 * booleans and a PostgreSQL integer column reads back as a number too).
 */
import type { Generated } from 'kysely';
import type { ChangeKind, ModelStatus, SubscriptionStatus } from './types.js';

export interface OrganizationsTable {
  id: string;
  name: string;
  sandbox: number;
  created_at: string;
}

export interface SubscriptionsTable {
  org_id: string;
  status: SubscriptionStatus;
  plan: string | null;
  created_at: string;
  updated_at: string;
}

export interface ApiKeysTable {
  id: string;
  org_id: string;
  name: string | null;
  prefix: string;
  /** Hex SHA-256 of the full key; the key itself is never stored. */
  key_hash: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  expires_at: string | null;
}

export interface ModelsTable {
  id: string;
  org_id: string;
  name: string | null;
  status: ModelStatus;
  ws_url: string | null;
  ws_token: string | null;
  user_agent: string | null;
  cookie: string | null;
  proxy_url: string | null;
  created_at: string;
  updated_at: string;
}

export interface ChangesTable {
  /** Never reused (SQLite AUTOINCREMENT, PostgreSQL identity), so pollers can resume from it. */
  seq: Generated<number>;
  kind: ChangeKind;
  entity_id: string;
  at: string;
}

export interface Database {
  organizations: OrganizationsTable;
  subscriptions: SubscriptionsTable;
  api_keys: ApiKeysTable;
  models: ModelsTable;
  changes: ChangesTable;
}
