/**
 * The store's public shapes. Everything that touches the database goes through the
 * {@link Store} interface, so the gateway, the CLI and (later) the management API never see
 * SQL, and a PostgreSQL implementation can sit beside the SQLite one.
 *
 * Timestamps are ISO 8601 strings in UTC (`2026-11-24T14:30:00.000Z`): portable across
 * SQLite and PostgreSQL and sortable as text.
 */

import type { WebhookStore } from './webhook-types.js';

export type SubscriptionStatus = 'active' | 'canceled';
export const SUBSCRIPTION_STATUSES: readonly SubscriptionStatus[] = ['active', 'canceled'];

export type ModelStatus = 'connected' | 'disconnected';
export const MODEL_STATUSES: readonly ModelStatus[] = ['connected', 'disconnected'];

/**
 * How the gateway serves a model (sessions-contract.md §1): `relay` (the default) opens one
 * OnlyFans socket per client connection; `session` keeps one socket per model open across the
 * cluster, logs its events and shares it between clients.
 */
export type DeliveryMode = 'relay' | 'session';
export const DELIVERY_MODES: readonly DeliveryMode[] = ['relay', 'session'];

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
  /**
   * When the key stops (or stopped) working by itself. A rotation with a grace period moves
   * it to the end of the grace, so admission and live relays treat the old key as expiring.
   */
  expiresAt: string | null;
  /** The key that replaced this one in a rotation, if any. */
  replacedBy: string | null;
}

/** Returned once, by {@link Store.createApiKey}: the only time the plaintext key exists. */
export interface CreatedApiKey extends ApiKeyRecord {
  key: string;
}

/** Returned once, by {@link Store.rotateApiKey}: the new key, and when the old one stops working. */
export interface RotatedApiKey extends CreatedApiKey {
  /** The old key's id. */
  replaces: string;
  /** When the old key stops working: now without a grace period, else the grace's end (or its earlier expiry). */
  graceEndsAt: string;
}

/** The longest grace a rotation may give the old key: long enough to roll a change out, short enough not to forget it. */
export const MAX_GRACE_SECONDS = 30 * 24 * 3600;

/** What {@link Store.deleteOrganization} removed with the organization. */
export interface DeletedOrganization {
  id: string;
  name: string;
  deleted: true;
  /** How many API keys went with it. */
  keys: number;
  /** How many models went with it (each with a `removed` lifecycle event). */
  models: number;
  /** The subscription it had, `none` if it never had one. */
  subscription: SubscriptionStatus | 'none';
}

/** A model as shown to operators: secrets are reduced to presence flags or masked. */
export interface ModelRecord {
  id: string;
  orgId: string;
  name: string | null;
  status: ModelStatus;
  delivery: DeliveryMode;
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
  /** Default `relay`. */
  delivery?: DeliveryMode;
}

/** Fields to change; `null` clears an optional field, `undefined` leaves it alone. */
export interface ModelPatch {
  name?: string | null;
  wsUrl?: string;
  wsToken?: string;
  userAgent?: string | null;
  cookie?: string | null;
  proxyUrl?: string | null;
  delivery?: DeliveryMode;
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
  | 'removed'
  /** The delivery mode changed; the reason says from and to (`relay → session`). */
  | 'delivery_changed'
  /** A session's OnlyFans socket went down (recorded by src/sessions). */
  | 'session.upstream_down'
  /** A session's OnlyFans socket is back after being down. */
  | 'session.upstream_restored';

export const MODEL_EVENT_KINDS: readonly ModelEventKind[] = [
  'created',
  'connected',
  'disconnected',
  'credentials_updated',
  'credentials_rejected',
  'credentials_refreshed',
  'proxy_failing',
  'removed',
  'delivery_changed',
  'session.upstream_down',
  'session.upstream_restored',
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

/**
 * Who made an operator change: the local CLI, the CLI through the management API, another
 * management API client (a Bearer token), or a dashboard session. `detail` says more without
 * a secret: `user@host` for the CLI, the client IP for the API, the session's short id and IP
 * for the dashboard.
 */
export type ActorKind = 'cli' | 'cli-remote' | 'api' | 'dashboard';
export const ACTOR_KINDS: readonly ActorKind[] = ['cli', 'cli-remote', 'api', 'dashboard'];

export interface Actor {
  kind: ActorKind;
  detail: string | null;
}

/** What the operator trail records, `<target kind>.<what happened>`. */
export const AUDIT_ACTIONS = [
  'organization.created',
  'organization.renamed',
  'organization.deleted',
  'subscription.changed',
  'key.created',
  'key.revoked',
  'key.rotated',
  'model.created',
  'model.updated',
  'model.connected',
  'model.disconnected',
  'model.removed',
  'relay.closed',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export type AuditTargetKind = 'organization' | 'subscription' | 'key' | 'model' | 'relay';
export const AUDIT_TARGET_KINDS: readonly AuditTargetKind[] = ['organization', 'subscription', 'key', 'model', 'relay'];

/** Extra facts of an audit entry: names, ids, counts, never a secret. */
export type AuditDetails = Record<string, string | number | boolean | null | string[]>;

/**
 * One row of the operator trail, written in the transaction of the change it describes. Names
 * are copied at the time, so an entry still reads well after its target is removed or renamed.
 */
export interface AuditEntry {
  seq: number;
  at: string;
  actorKind: ActorKind;
  actorDetail: string | null;
  action: AuditAction;
  orgId: string | null;
  /** The organization's name at the time. */
  orgName: string | null;
  targetKind: AuditTargetKind;
  targetId: string;
  /** The target's display name at the time: organization name, `key name (prefix…)`, model name. */
  targetName: string | null;
  details: AuditDetails | null;
}

/** A page of the operator trail, newest first; every filter is optional. */
export interface AuditQuery {
  orgId?: string | undefined;
  /** One action (`key.rotated`), or a target kind (`key`) for all of its actions. */
  action?: string | undefined;
  actorKind?: string | undefined;
  /** The organization, key, model or relay the entry is about. */
  targetId?: string | undefined;
  /** Entries at or after this time (ISO 8601). */
  since?: string | undefined;
  /** Entries before this time (ISO 8601). */
  until?: string | undefined;
  /** Only entries with a smaller `seq`: pass the last one of the previous page. */
  before?: number | undefined;
  /** At most this many (default 50, at most 1000). */
  limit?: number | undefined;
}

/** A live relay an operator closed, as the audit trail names it. */
export interface ClosedRelay {
  id: string;
  orgId: string;
  modelId: string;
  keyId: string;
  /** The node that held it. */
  node: string;
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
  /**
   * Renames the organization (the rules of create); the audit trail keeps both names.
   * Renaming to the current name changes nothing.
   */
  renameOrganization(id: string, name: string): Promise<Organization>;
  /**
   * Deletes the organization with its subscription, API keys and models in one transaction;
   * each model gets a `removed` lifecycle event, and the change feed closes the live relays
   * (the key is gone: INVALID_API_KEY).
   */
  deleteOrganization(id: string): Promise<DeletedOrganization>;
  /**
   * True on a first start: no organization exists and none ever did (so deleting the sandbox
   * organization does not seed it again).
   */
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
   * Replaces the key in one transaction: a new key with its name, organization and expiry,
   * and the old one set to stop working after `graceSeconds` (0, the default: at once, as
   * a revocation; at most {@link MAX_GRACE_SECONDS}). A revoked, expired or already rotated
   * key is a CONFLICT.
   */
  rotateApiKey(id: string, input?: { graceSeconds?: number }): Promise<RotatedApiKey>;
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
  /**
   * Every model whose delivery is `session`, of any status and organization: what each node
   * reconciles its running sessions against.
   */
  listSessionModels(): Promise<ModelRecord[]>;
  /**
   * Applies the patch; a patch that changes nothing writes nothing. A new `delivery` records
   * a `delivery_changed` event and reaches running nodes through the change feed.
   */
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

  /**
   * This store as `actor` sees it: the same data, and every operator change made through it
   * (organizations, subscriptions, keys, models) writes an audit row in its own transaction.
   * Gateway-internal writes (a rejected token, a refresh) stay on the plain store. Closing a
   * view closes the store.
   */
  as(actor: Actor): Store;
  /** Records that the actor closed a live relay (not a store change, but an operator action). Needs {@link as}. */
  recordRelayClose(relay: ClosedRelay): Promise<void>;
  /** The operator trail, newest first, filtered and paged. */
  listAudit(query?: AuditQuery): Promise<AuditEntry[]>;

  /** Webhook endpoints, their deliveries and attempts (sessions-contract.md §6). */
  readonly webhooks: WebhookStore;

  /** Changes with `seq > after`, oldest first, at most `limit` (default 1000). */
  changesSince(after: number, limit?: number): Promise<Change[]>;
  latestChangeSeq(): Promise<number>;

  close(): Promise<void>;
}
