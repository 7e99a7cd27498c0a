/**
 * The store's public shapes. Everything that touches the database goes through the
 * {@link Store} interface, so the gateway, the CLI and (later) the management API never see
 * SQL, and a PostgreSQL implementation can sit beside the SQLite one.
 *
 * Timestamps are ISO 8601 strings in UTC (`2026-11-24T14:30:00.000Z`): portable across
 * SQLite and PostgreSQL and sortable as text.
 */

export type SubscriptionStatus = 'active' | 'canceled';
export const SUBSCRIPTION_STATUSES: readonly SubscriptionStatus[] = ['active', 'canceled'];

export type ModelStatus = 'connected' | 'disconnected';
export const MODEL_STATUSES: readonly ModelStatus[] = ['connected', 'disconnected'];

export interface Organization {
  id: string;
  name: string;
  /** True for the organization seeded on a first, non-production start. */
  sandbox: boolean;
  createdAt: string;
}

export interface Subscription {
  orgId: string;
  status: SubscriptionStatus;
  plan: string | null;
  createdAt: string;
  updatedAt: string;
}

/** An API key as stored: never the key itself, only its visible prefix. */
export interface ApiKeyRecord {
  id: string;
  orgId: string;
  name: string | null;
  /** The first characters of the key, safe to show (e.g. `ofgw_sk_4fQz`). */
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  expiresAt: string | null;
}

/** Returned once, by {@link Store.createApiKey}: the only time the plaintext key exists. */
export interface CreatedApiKey extends ApiKeyRecord {
  key: string;
}

/** A model as shown to operators: secrets are reduced to presence flags or masked. */
export interface ModelRecord {
  id: string;
  orgId: string;
  name: string | null;
  status: ModelStatus;
  wsUrl: string | null;
  hasWsToken: boolean;
  userAgent: string | null;
  hasCookie: boolean;
  /** The proxy URL with any password replaced by `***`. */
  proxyUrl: string | null;
  /** Set when OnlyFans refused the stored token; cleared by new credentials. */
  credentialsRejectedAt: string | null;
  credentialsRejectedReason: string | null;
  createdAt: string;
  updatedAt: string;
}

/** What the upstream connector needs to open a model's OnlyFans socket. Secret. */
export interface ModelCredentials {
  wsUrl: string | null;
  wsToken: string | null;
  userAgent: string | null;
  cookie: string | null;
  proxyUrl: string | null;
}

export interface NewModel {
  name?: string | null;
  wsUrl: string;
  wsToken: string;
  userAgent?: string | null;
  cookie?: string | null;
  proxyUrl?: string | null;
}

/** Fields to change; `null` clears an optional field, `undefined` leaves it alone. */
export interface ModelPatch {
  name?: string | null;
  wsUrl?: string;
  wsToken?: string;
  userAgent?: string | null;
  cookie?: string | null;
  proxyUrl?: string | null;
}

/**
 * `last_used_at` is for operators ("used today?"): it is written at most once per key per
 * interval, because a write per connection would contend with the CLI for the SQLite write
 * lock under a reconnect storm. Callers that already hold the record skip the call too.
 */
export const TOUCH_INTERVAL_MS = 60_000;

export type ChangeKind = 'organization' | 'subscription' | 'api_key' | 'model';

/**
 * One row of the change feed. Every mutation appends one in the same transaction, so a
 * running gateway that polls {@link Store.changesSince} sees changes made by any process
 * (the CLI on the same SQLite file, another node on the same PostgreSQL) in order. Rows
 * become visible in `seq` order on both engines, so a poller that resumes after the last
 * `seq` it read never skips one.
 */
export interface Change {
  seq: number;
  kind: ChangeKind;
  /** The changed row's id: an organization id for `organization`/`subscription`. */
  entityId: string;
  at: string;
}

/**
 * A model's lifecycle, kept as an audit trail (it outlives the model). `reason` is human
 * text for operators and never holds a secret.
 */
export type ModelEventKind =
  | 'created'
  | 'connected'
  | 'disconnected'
  | 'credentials_updated'
  | 'credentials_rejected'
  | 'credentials_refreshed'
  | 'proxy_failing'
  | 'removed';

export const MODEL_EVENT_KINDS: readonly ModelEventKind[] = [
  'created',
  'connected',
  'disconnected',
  'credentials_updated',
  'credentials_rejected',
  'credentials_refreshed',
  'proxy_failing',
  'removed',
];

export interface ModelEvent {
  seq: number;
  modelId: string;
  orgId: string;
  kind: ModelEventKind;
  reason: string | null;
  at: string;
}

/** A page of the audit trail across models: newest first, older than `before` (a `seq`). */
export interface ModelEventsQuery {
  /** Only this organization's models. */
  orgId?: string | undefined;
  /** At most this many (default 50, at most 1000). */
  limit?: number | undefined;
  /** Only events with a smaller `seq`: pass the last one of the previous page. */
  before?: number | undefined;
}

/** Fresh credentials from the operator's refresh endpoint. */
export interface RefreshedCredentials {
  wsUrl: string;
  wsToken: string;
  userAgent?: string | null;
  cookie?: string | null;
}

/** Admission needs the key, its subscription and the model in as few round trips as possible. */
export interface Store {
  createOrganization(input: { name: string; sandbox?: boolean }): Promise<Organization>;
  getOrganization(id: string): Promise<Organization | undefined>;
  listOrganizations(): Promise<Organization[]>;
  /** True when no organization exists yet (first start). */
  isEmpty(): Promise<boolean>;

  /** Creates or replaces the organization's subscription. */
  setSubscription(orgId: string, input: { status: SubscriptionStatus; plan?: string | null }): Promise<Subscription>;
  getSubscription(orgId: string): Promise<Subscription | undefined>;

  /** Generates a key from a CSPRNG, stores only its digest, returns the plaintext once. */
  createApiKey(orgId: string, input?: { name?: string | null; expiresAt?: string | null }): Promise<CreatedApiKey>;
  listApiKeys(orgId: string): Promise<ApiKeyRecord[]>;
  getApiKey(id: string): Promise<ApiKeyRecord | undefined>;
  /** Idempotent: revoking a revoked key keeps the first revocation time. */
  revokeApiKey(id: string): Promise<ApiKeyRecord>;
  /**
   * Finds the key whose digest matches `plaintext` (revoked and expired keys included: the
   * caller decides). A malformed key or a bad checksum returns `undefined` without a query.
   */
  findApiKey(plaintext: string): Promise<ApiKeyRecord | undefined>;
  /** Records use; implementations may skip the write when the last one is recent. */
  touchApiKey(id: string, at: Date): Promise<void>;

  createModel(orgId: string, input: NewModel): Promise<ModelRecord>;
  getModel(id: string): Promise<ModelRecord | undefined>;
  listModels(orgId?: string): Promise<ModelRecord[]>;
  updateModel(id: string, patch: ModelPatch): Promise<ModelRecord>;
  setModelStatus(id: string, status: ModelStatus): Promise<ModelRecord>;
  removeModel(id: string): Promise<void>;
  getModelCredentials(id: string): Promise<ModelCredentials | undefined>;
  /**
   * OnlyFans refused the model's token: admissions answer NO_WS_CREDENTIALS at once until new
   * credentials arrive (updateModel with a new wsUrl/wsToken, or refreshCredentials).
   * Records a `credentials_rejected` event; a no-op (no new event) if already rejected.
   */
  markCredentialsRejected(id: string, reason: string): Promise<ModelRecord>;
  /** Replaces the credentials, clears the rejected state, records `credentials_refreshed`. */
  refreshCredentials(id: string, credentials: RefreshedCredentials): Promise<ModelRecord>;
  /** Appends an event that changes no state (e.g. `proxy_failing`). */
  recordModelEvent(id: string, kind: ModelEventKind, reason: string): Promise<void>;
  /** The model's events, newest first (default limit 50); also after the model was removed. */
  listModelEvents(modelId: string, limit?: number): Promise<ModelEvent[]>;
  /** Every model's events (or one organization's), newest first, a page at a time. */
  listModelEventsAll(query?: ModelEventsQuery): Promise<ModelEvent[]>;

  /** Changes with `seq > after`, oldest first, at most `limit` (default 1000). */
  changesSince(after: number, limit?: number): Promise<Change[]>;
  latestChangeSeq(): Promise<number>;

  close(): Promise<void>;
}
