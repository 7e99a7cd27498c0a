/**
 * Kysely table types. Columns are snake_case and use only types both SQLite and
 * PostgreSQL store the same way: text (ids are UUID text, timestamps ISO 8601 UTC text,
 * sortable as text) and integer (`sandbox` is 0/1, because better-sqlite3 cannot bind
 * booleans and a PostgreSQL integer column reads back as a number too).
 */
import type { Generated } from 'kysely';
import type { WebhookDeliveryStatus } from './webhook-types.js';
import type { ActorKind, AuditAction, AuditTargetKind, ChangeKind, DeliveryMode, ModelEventKind, ModelStatus, SubscriptionStatus } from './types.js';

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
  /** Also the end of a rotation's grace period (the earlier of the two). */
  expires_at: string | null;
  /** The id of the key that replaced this one in a rotation. */
  replaced_by: string | null;
}

export interface ModelsTable {
  id: string;
  org_id: string;
  name: string | null;
  status: ModelStatus;
  /** `relay` or `session`, checked by the database too (migration 004). */
  delivery: Generated<DeliveryMode>;
  ws_url: string | null;
  /** Encrypted (`ofgw1:…`, see src/secrets), bound to the organization, model and field. */
  ws_token: string | null;
  user_agent: string | null;
  /** Encrypted like `ws_token`. */
  cookie: string | null;
  /** Encrypted like `ws_token`: the whole URL, since its user info is a credential. */
  proxy_url: string | null;
  /** `proxy_url` with the password replaced by `***`, in clear for listings. */
  proxy_url_masked: string | null;
  ws_credentials_rejected_at: string | null;
  ws_credentials_rejected_reason: string | null;
  created_at: string;
  updated_at: string;
}

/** The models' audit trail; no foreign key, so it outlives a removed model. */
export interface ModelEventsTable {
  seq: Generated<number>;
  model_id: string;
  org_id: string;
  kind: ModelEventKind;
  reason: string | null;
  at: string;
}

/**
 * The operator trail; no foreign keys and names copied at write time, so it outlives and
 * still names what it describes. `details` is JSON text (names, ids, counts; never a secret).
 */
export interface AuditEventsTable {
  seq: Generated<number>;
  at: string;
  actor_kind: ActorKind;
  actor_detail: string | null;
  action: AuditAction;
  org_id: string | null;
  org_name: string | null;
  target_kind: AuditTargetKind;
  target_id: string;
  target_name: string | null;
  details: string | null;
}

export interface ChangesTable {
  /** Never reused (SQLite AUTOINCREMENT, PostgreSQL identity), so pollers can resume from it. */
  seq: Generated<number>;
  kind: ChangeKind;
  entity_id: string;
  at: string;
}

/** A webhook endpoint (migration 005); `event_types` and `model_ids` are JSON arrays, null for all. */
export interface WebhookEndpointsTable {
  id: string;
  org_id: string;
  url: string;
  event_types: string | null;
  model_ids: string | null;
  enabled: number;
  disabled_reason: string | null;
  /** Encrypted like a model's token, bound to `ofgw:webhook:<org>:<endpoint>:secret`. */
  secret: string;
  /** The secret before the last rotation, still signing until `previous_secret_until`. */
  previous_secret: string | null;
  previous_secret_until: string | null;
  created_at: string;
  updated_at: string;
}

export interface WebhookDeliveriesTable {
  /** The `webhook-id`, `msg_…`, the same on every attempt. */
  id: string;
  endpoint_id: string;
  org_id: string;
  model_id: string | null;
  type: string;
  payload: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  next_attempt_at: string | null;
  claimed_by: string | null;
  claimed_until: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

export interface WebhookAttemptsTable {
  seq: Generated<number>;
  delivery_id: string;
  node: string;
  at: string;
  status_code: number | null;
  error: string | null;
  latency_ms: number;
}

/** Per session model: the newest event-log id already turned into deliveries. */
export interface WebhookIntakeTable {
  model_id: string;
  last_event_id: string;
  updated_at: string;
}

export interface Database {
  organizations: OrganizationsTable;
  subscriptions: SubscriptionsTable;
  api_keys: ApiKeysTable;
  models: ModelsTable;
  changes: ChangesTable;
  model_events: ModelEventsTable;
  audit_events: AuditEventsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  webhook_intake: WebhookIntakeTable;
}
