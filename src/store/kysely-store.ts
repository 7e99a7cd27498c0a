/**
 * The {@link Store} over Kysely, for SQLite and PostgreSQL alike. It uses only SQL both
 * share (`returning`, `on conflict … do update`); where the engines differ in how concurrent
 * writers meet, it asks {@link WriteLocks} (locks.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable, Updateable } from 'kysely';
import { z } from 'zod';
import type { Keyring } from '../secrets/index.js';
import { digestsEqual, generateApiKey, hashApiKey, isWellFormedApiKey } from '../auth/api-key.js';
import { CompiledRead } from './compiled-read.js';
import type { DialectName } from './dialect.js';
import { writeLocks, type WriteLocks } from './locks.js';
import { openField, type ModelRef } from './model-secrets.js';
import { appendAudit, keyLabel, listAudit, type AuditRecord } from './audit.js';
import { StoreError } from './errors.js';
import { appendEvent, credentialReason, diffCredentials, modelColumns, type Trx } from './model-writes.js';
import type { WebhookStore } from './webhook-types.js';
import { KyselyWebhookStore } from './webhooks.js';
import { toApiKey, toChange, toModel, toModelEvent, toOrganization, toSubscription } from './records.js';
import type { Database, ModelsTable } from './schema.js';
import type {
  Actor,
  ApiKeyRecord,
  AuditAction,
  AuditEntry,
  AuditQuery,
  ClosedRelay,
  DeletedOrganization,
  Change,
  ChangeKind,
  CreatedApiKey,
  ModelCredentials,
  ModelEvent,
  ModelEventKind,
  ModelEventsQuery,
  ModelPatch,
  ModelRecord,
  ModelStatus,
  NewModel,
  Organization,
  RefreshedCredentials,
  RotatedApiKey,
  Store,
  Subscription,
  SubscriptionStatus,
} from './types.js';
import { TOUCH_INTERVAL_MS } from './types.js';
import {
  actorInput,
  apiKeyInput,
  auditQuery,
  changesQuery,
  eventsQuery,
  modelEventInput,
  modelInput,
  modelPatchInput,
  modelStatusInput,
  notFound,
  organizationInput,
  parseId,
  parseInput,
  reasonInput,
  refreshInput,
  renameInput,
  requireId,
  rotationInput,
  subscriptionInput,
  touchInput,
} from './validation.js';

const beforeSeq = 'must be a whole number from 1';
/** The cross-model audit trail's page: the per-model rules plus an optional `before` seq. */
const allEventsQuery = eventsQuery.extend({ before: z.number().int(beforeSeq).min(1, beforeSeq).optional() });

const DEFAULT_CHANGES_PAGE = 1000;
const DEFAULT_EVENTS_PAGE = 50;

/** New credentials end the rejected state. */
const CLEAR_REJECTED = { ws_credentials_rejected_at: null, ws_credentials_rejected_reason: null } as const;

interface ModelMutation {
  columns: Updateable<ModelsTable>;
  /** Lifecycle events, in order (an update may renew credentials and switch delivery at once). */
  events?: Array<{ kind: ModelEventKind; reason: string | null }> | undefined;
  /** The operator trail's entry, when an actor made the change. */
  audit?: Pick<AuditRecord, 'action' | 'details'> | undefined;
}

/** One change-feed row to append. */
type ChangeRow = [kind: ChangeKind, entityId: string];

const now = (): string => new Date().toISOString();

/**
 * The reads every new relay makes (findApiKey, getSubscription, getModel,
 * getModelCredentials), compiled once per store.
 */
function connectPathReads(db: Kysely<Database>) {
  return {
    apiKeyByHash: new CompiledRead((hash) => db.selectFrom('api_keys').selectAll().where('key_hash', '=', hash)),
    subscription: new CompiledRead((orgId) => db.selectFrom('subscriptions').selectAll().where('org_id', '=', orgId)),
    model: new CompiledRead((modelId) => db.selectFrom('models').selectAll().where('id', '=', modelId)),
    modelCredentials: new CompiledRead((modelId) =>
      db
        .selectFrom('models')
        .select(['org_id', 'ws_url', 'ws_token', 'user_agent', 'cookie', 'proxy_url'])
        .where('id', '=', modelId),
    ),
  };
}

/** The organization's id and name, or NOT_FOUND. */
async function requireOrganization(trx: Trx, orgId: string): Promise<{ id: string; name: string }> {
  const row = await trx.selectFrom('organizations').select(['id', 'name']).where('id', '=', orgId).executeTakeFirst();
  if (row === undefined) throw notFound('organization', orgId);
  return row;
}

export class KyselyStore implements Store {
  readonly #db: Kysely<Database>;
  readonly #keyring: Keyring;
  readonly #reads: ReturnType<typeof connectPathReads>;
  readonly #locks: WriteLocks;
  readonly #dialect: DialectName;
  /** Who changes things through this store; without one, changes write no audit rows. */
  readonly #actor: Actor | undefined;
  readonly webhooks: WebhookStore;

  /**
   * `keyring` encrypts the models' token, cookie and proxy URL (see src/secrets); `dialect`
   * is the engine behind `db`; `actor`, when given, is recorded with every operator change.
   */
  constructor(db: Kysely<Database>, keyring: Keyring, dialect: DialectName, actor?: Actor) {
    this.#db = db;
    this.#keyring = keyring;
    this.#reads = connectPathReads(db);
    this.#locks = writeLocks(dialect);
    this.#dialect = dialect;
    this.#actor = actor;
    this.webhooks = new KyselyWebhookStore(db, keyring, dialect, (trx) => this.#locks.secretWrite(trx));
  }

  as(actor: Actor): Store {
    return new KyselyStore(this.#db, this.#keyring, this.#dialect, parseInput(actorInput, actor));
  }

  async createOrganization(input: { name: string; sandbox?: boolean }): Promise<Organization> {
    const { name, sandbox } = parseInput(organizationInput, input);
    const row = { id: randomUUID(), name, sandbox: sandbox ? 1 : 0, created_at: now() };
    await this.#db.transaction().execute(async (trx) => {
      await trx.insertInto('organizations').values(row).execute();
      await this.#audit(trx, { action: 'organization.created', org: row, target: { kind: 'organization', id: row.id, name } }, row.created_at);
      await this.#appendChanges(trx, [['organization', row.id]], row.created_at);
    });
    return toOrganization(row);
  }

  async renameOrganization(id: string, name: string): Promise<Organization> {
    const orgId = requireId('organization', id);
    const parsed = parseInput(renameInput, { name });
    const row = await this.#db.transaction().execute(async (trx) => {
      const current = await this.#locks.row(trx.selectFrom('organizations').selectAll().where('id', '=', orgId)).executeTakeFirst();
      if (current === undefined) throw notFound('organization', orgId);
      if (current.name === parsed.name) return current;
      const at = now();
      const renamed = await trx.updateTable('organizations').set({ name: parsed.name }).where('id', '=', orgId).returningAll().executeTakeFirstOrThrow();
      await this.#audit(
        trx,
        { action: 'organization.renamed', org: renamed, target: { kind: 'organization', id: orgId, name: parsed.name }, details: { from: current.name, to: parsed.name } },
        at,
      );
      await this.#appendChanges(trx, [['organization', orgId]], at);
      return renamed;
    });
    return toOrganization(row);
  }

  async deleteOrganization(id: string): Promise<DeletedOrganization> {
    const orgId = requireId('organization', id);
    return this.#db.transaction().execute(async (trx) => {
      const org = await this.#locks.row(trx.selectFrom('organizations').select(['id', 'name']).where('id', '=', orgId)).executeTakeFirst();
      if (org === undefined) throw notFound('organization', orgId);
      const at = now();
      const models = await trx.deleteFrom('models').where('org_id', '=', orgId).returning('id').execute();
      const keys = await trx.deleteFrom('api_keys').where('org_id', '=', orgId).returning('id').execute();
      const subscription = await trx.deleteFrom('subscriptions').where('org_id', '=', orgId).returning('status').executeTakeFirst();
      await trx.deleteFrom('organizations').where('id', '=', orgId).execute();
      for (const model of models) await appendEvent(trx, { orgId, modelId: model.id }, 'removed', `organization "${org.name}" deleted`, at);
      const deleted: DeletedOrganization = {
        id: orgId,
        name: org.name,
        deleted: true,
        keys: keys.length,
        models: models.length,
        subscription: subscription?.status ?? 'none',
      };
      await this.#audit(
        trx,
        {
          action: 'organization.deleted',
          org,
          target: { kind: 'organization', id: orgId, name: org.name },
          details: { keys: deleted.keys, models: deleted.models, subscription: deleted.subscription },
        },
        at,
      );
      // Keys first: a live relay then closes with INVALID_API_KEY, what a new connection
      // with its key would now get, before the model's removal could close it otherwise.
      await this.#appendChanges(
        trx,
        [
          ...keys.map((k): ChangeRow => ['api_key', k.id]),
          ...(subscription ? [['subscription', orgId] satisfies ChangeRow] : []),
          ...models.map((m): ChangeRow => ['model', m.id]),
          ['organization', orgId],
        ],
        at,
      );
      return deleted;
    });
  }

  async getOrganization(id: string): Promise<Organization | undefined> {
    const orgId = parseId(id);
    if (orgId === undefined) return undefined;
    const row = await this.#db.selectFrom('organizations').selectAll().where('id', '=', orgId).executeTakeFirst();
    return row && toOrganization(row);
  }

  async listOrganizations(): Promise<Organization[]> {
    const rows = await this.#db.selectFrom('organizations').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(toOrganization);
  }

  async isEmpty(): Promise<boolean> {
    // Every organization ever created left a change row, which outlives its deletion.
    const org = await this.#db.selectFrom('organizations').select('id').limit(1).executeTakeFirst();
    const change = await this.#db.selectFrom('changes').select('seq').limit(1).executeTakeFirst();
    return org === undefined && change === undefined;
  }

  async setSubscription(
    orgId: string,
    input: { status: SubscriptionStatus; plan?: string | null },
  ): Promise<Subscription> {
    const id = requireId('organization', orgId);
    const { status, plan = null } = parseInput(subscriptionInput, input);
    const at = now();
    const row = await this.#db.transaction().execute(async (trx) => {
      const org = await requireOrganization(trx, id);
      const previous = this.#actor && (await trx.selectFrom('subscriptions').select(['status', 'plan']).where('org_id', '=', id).executeTakeFirst());
      const saved = await trx
        .insertInto('subscriptions')
        .values({ org_id: id, status, plan, created_at: at, updated_at: at })
        .onConflict((oc) => oc.column('org_id').doUpdateSet({ status, plan, updated_at: at }))
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.#audit(
        trx,
        {
          action: 'subscription.changed',
          org,
          target: { kind: 'subscription', id, name: org.name },
          details: { status, plan, previousStatus: previous?.status ?? 'none', previousPlan: previous?.plan ?? null },
        },
        at,
      );
      await this.#appendChanges(trx, [['subscription', id]], at);
      return saved;
    });
    return toSubscription(row);
  }

  async getSubscription(orgId: string): Promise<Subscription | undefined> {
    const id = parseId(orgId);
    if (id === undefined) return undefined;
    const [row] = (await this.#db.executeQuery(this.#reads.subscription.with(id))).rows;
    return row && toSubscription(row);
  }

  async createApiKey(
    orgId: string,
    input: { name?: string | null; expiresAt?: string | null } = {},
  ): Promise<CreatedApiKey> {
    const id = requireId('organization', orgId);
    const { name = null, expiresAt = null } = parseInput(apiKeyInput, input);
    const { key, prefix, hash } = generateApiKey();
    const row = {
      id: randomUUID(),
      org_id: id,
      name,
      prefix,
      key_hash: hash,
      created_at: now(),
      last_used_at: null,
      revoked_at: null,
      expires_at: expiresAt,
      replaced_by: null,
    };
    await this.#db.transaction().execute(async (trx) => {
      const org = await requireOrganization(trx, id);
      await trx.insertInto('api_keys').values(row).execute();
      await this.#audit(
        trx,
        { action: 'key.created', org, target: { kind: 'key', id: row.id, name: keyLabel(row) }, details: { prefix, expiresAt } },
        row.created_at,
      );
      await this.#appendChanges(trx, [['api_key', row.id]], row.created_at);
    });
    return { ...toApiKey(row), key };
  }

  async listApiKeys(orgId: string): Promise<ApiKeyRecord[]> {
    const id = parseId(orgId);
    if (id === undefined) return [];
    const rows = await this.#db
      .selectFrom('api_keys')
      .selectAll()
      .where('org_id', '=', id)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toApiKey);
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    const keyId = parseId(id);
    if (keyId === undefined) return undefined;
    const row = await this.#db.selectFrom('api_keys').selectAll().where('id', '=', keyId).executeTakeFirst();
    return row && toApiKey(row);
  }

  async revokeApiKey(id: string): Promise<ApiKeyRecord> {
    const keyId = requireId('API key', id);
    const at = now();
    const row = await this.#db.transaction().execute(async (trx) => {
      // Update first, read after: a concurrent revocation on another node makes this update
      // wait for its row, then match nothing, so only the first one records a change.
      const revoked = await trx
        .updateTable('api_keys')
        .set({ revoked_at: at })
        .where('id', '=', keyId)
        .where('revoked_at', 'is', null)
        .returningAll()
        .executeTakeFirst();
      if (revoked !== undefined) {
        await this.#auditKey(trx, 'key.revoked', revoked, at);
        await this.#appendChanges(trx, [['api_key', keyId]], at);
        return revoked;
      }
      // Already revoked (keep the first time, no new change) or missing.
      const existing = await trx.selectFrom('api_keys').selectAll().where('id', '=', keyId).executeTakeFirst();
      if (existing === undefined) throw notFound('API key', keyId);
      return existing;
    });
    return toApiKey(row);
  }

  async rotateApiKey(id: string, input: { graceSeconds?: number } = {}): Promise<RotatedApiKey> {
    const keyId = requireId('API key', id);
    const { graceSeconds } = parseInput(rotationInput, input);
    const { key, prefix, hash } = generateApiKey();
    const at = now();
    return this.#db.transaction().execute(async (trx) => {
      // Locked: two rotations of one key on two nodes cannot both replace it.
      const old = await this.#locks.row(trx.selectFrom('api_keys').selectAll().where('id', '=', keyId)).executeTakeFirst();
      if (old === undefined) throw notFound('API key', keyId);
      if (old.revoked_at !== null) throw new StoreError('CONFLICT', `API key ${keyId} is already revoked: create a new key instead`);
      if (old.replaced_by !== null) throw new StoreError('CONFLICT', `API key ${keyId} was already rotated (replaced by ${old.replaced_by})`);
      if (old.expires_at !== null && old.expires_at <= at) throw new StoreError('CONFLICT', `API key ${keyId} expired at ${old.expires_at}: create a new key instead`);
      const created = {
        id: randomUUID(),
        org_id: old.org_id,
        name: old.name,
        prefix,
        key_hash: hash,
        created_at: at,
        last_used_at: null,
        revoked_at: null,
        expires_at: old.expires_at,
        replaced_by: null,
      };
      await trx.insertInto('api_keys').values(created).execute();
      // Without a grace the old key is revoked now; with one it expires at the grace's end
      // (or at its own expiry, if that comes first), which admission and live relays honour.
      const graceEnd = new Date(Date.parse(at) + graceSeconds * 1000).toISOString();
      const graceEndsAt = graceSeconds === 0 ? at : old.expires_at !== null && old.expires_at < graceEnd ? old.expires_at : graceEnd;
      const ended = graceSeconds === 0 ? { revoked_at: at } : { expires_at: graceEndsAt };
      const replaced = await trx.updateTable('api_keys').set({ ...ended, replaced_by: created.id }).where('id', '=', keyId).returningAll().executeTakeFirstOrThrow();
      await this.#auditKey(trx, 'key.rotated', replaced, at, { newKeyId: created.id, newKeyPrefix: prefix, graceSeconds, graceEndsAt });
      await this.#appendChanges(trx, [['api_key', created.id], ['api_key', keyId]], at);
      return { ...toApiKey(created), key, replaces: keyId, graceEndsAt };
    });
  }

  async findApiKey(plaintext: string): Promise<ApiKeyRecord | undefined> {
    if (typeof plaintext !== 'string' || !isWellFormedApiKey(plaintext)) return undefined;
    const hash = hashApiKey(plaintext);
    const [row] = (await this.#db.executeQuery(this.#reads.apiKeyByHash.with(hash))).rows;
    // The index lookup already matched; the constant-time check guards against an
    // engine or collation that compares loosely, at no measurable cost.
    return row !== undefined && digestsEqual(row.key_hash, hash) ? toApiKey(row) : undefined;
  }

  async touchApiKey(id: string, at: Date): Promise<void> {
    const keyId = parseId(id);
    if (keyId === undefined) return;
    const { at: when } = parseInput(touchInput, { at });
    const staleBefore = new Date(when.getTime() - TOUCH_INTERVAL_MS).toISOString();
    // One conditional statement, no read first: it also never moves last_used_at backwards.
    await this.#db
      .updateTable('api_keys')
      .set({ last_used_at: when.toISOString() })
      .where('id', '=', keyId)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', staleBefore)]))
      .execute();
  }

  async createModel(orgId: string, input: NewModel): Promise<ModelRecord> {
    const id = requireId('organization', orgId);
    const fields = parseInput(modelInput, input);
    const at = now();
    const ref = { orgId: id, modelId: randomUUID() };
    const row = await this.#db.transaction().execute(async (trx) => {
      await this.#locks.secretWrite(trx);
      await requireOrganization(trx, id);
      const created = await trx
        .insertInto('models')
        .values({
          ...modelColumns(this.#keyring, ref, fields),
          id: ref.modelId,
          org_id: id,
          status: 'connected',
          created_at: at,
          updated_at: at,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await appendEvent(trx, ref, 'created', null, at);
      await this.#auditModel(trx, 'model.created', created, at);
      await this.#appendChanges(trx, [['model', ref.modelId]], at);
      return created;
    });
    return toModel(row);
  }

  async getModel(id: string): Promise<ModelRecord | undefined> {
    const modelId = parseId(id);
    if (modelId === undefined) return undefined;
    const [row] = (await this.#db.executeQuery(this.#reads.model.with(modelId))).rows;
    return row && toModel(row);
  }

  async listModels(orgId?: string): Promise<ModelRecord[]> {
    let query = this.#db.selectFrom('models').selectAll().orderBy('created_at').orderBy('id');
    if (orgId !== undefined) {
      const id = parseId(orgId);
      if (id === undefined) return [];
      query = query.where('org_id', '=', id);
    }
    return (await query.execute()).map(toModel);
  }

  async listSessionModels(): Promise<ModelRecord[]> {
    const rows = await this.#db.selectFrom('models').selectAll().where('delivery', '=', 'session').orderBy('created_at').orderBy('id').execute();
    return rows.map(toModel);
  }

  /**
   * Given credentials that differ from the stored ones, or any re-entered while the model is
   * rejected (the operator vouches for them), clear the rejected state and record
   * `credentials_updated`. A new delivery mode records `delivery_changed` (`relay → session`);
   * the same mode again is no change. A name-only change records no event; a patch that
   * changes nothing writes nothing.
   */
  async updateModel(id: string, patch: ModelPatch): Promise<ModelRecord> {
    const modelId = requireId('model', id);
    const parsed = parseInput(modelPatchInput, patch);
    if (Object.values(parsed).every((value) => value === undefined)) {
      // Nothing to change: no write, no change row.
      const current = await this.getModel(modelId);
      if (current === undefined) throw notFound('model', modelId);
      return current;
    }
    return this.#mutateModel(modelId, (row, ref) => {
      // Decided on the locked row: two nodes switching one model cannot both record the switch.
      const delivery = parsed.delivery !== undefined && parsed.delivery !== row.delivery ? parsed.delivery : undefined;
      const fields: ModelPatch = { ...parsed, delivery };
      // Field names only: the values may be secrets.
      const given = Object.entries(fields).flatMap(([field, value]) => (value === undefined ? [] : [field]));
      if (given.length === 0) return undefined;
      const diff = diffCredentials(this.#keyring, row, fields);
      const renewed = diff.changed.length > 0 || (diff.given.length > 0 && row.ws_credentials_rejected_at !== null);
      return {
        columns: { ...modelColumns(this.#keyring, ref, fields), ...(renewed ? CLEAR_REJECTED : {}) },
        events: [
          ...(renewed ? [{ kind: 'credentials_updated' as const, reason: credentialReason(diff) }] : []),
          ...(delivery ? [{ kind: 'delivery_changed' as const, reason: `${row.delivery} → ${delivery}` }] : []),
        ],
        audit: {
          action: 'model.updated',
          details: {
            fields: given,
            ...(fields.name !== undefined && fields.name !== row.name ? { previousName: row.name } : {}),
            ...(delivery ? { previousDelivery: row.delivery, delivery } : {}),
          },
        },
      };
    });
  }

  async setModelStatus(id: string, status: ModelStatus): Promise<ModelRecord> {
    const modelId = requireId('model', id);
    const parsed = parseInput(modelStatusInput, { status });
    // Setting the status it already has is not a change: no write, no change row, no event.
    return this.#mutateModel(modelId, (row) =>
      row.status === parsed.status
        ? undefined
        : { columns: { status: parsed.status }, events: [{ kind: parsed.status, reason: null }], audit: { action: `model.${parsed.status}` } },
    );
  }

  async removeModel(id: string): Promise<void> {
    const modelId = requireId('model', id);
    await this.#db.transaction().execute(async (trx) => {
      const removed = await trx.deleteFrom('models').where('id', '=', modelId).returning(['id', 'org_id', 'name']).executeTakeFirst();
      if (removed === undefined) throw notFound('model', modelId);
      const at = now();
      await appendEvent(trx, { orgId: removed.org_id, modelId }, 'removed', null, at);
      await this.#auditModel(trx, 'model.removed', removed, at);
      await this.#appendChanges(trx, [['model', modelId]], at);
    });
  }

  async getModelCredentials(id: string): Promise<ModelCredentials | undefined> {
    const modelId = parseId(id);
    if (modelId === undefined) return undefined;
    const [row] = (await this.#db.executeQuery(this.#reads.modelCredentials.with(modelId))).rows;
    if (row === undefined) return undefined;
    const ref = { orgId: row.org_id, modelId };
    return {
      wsUrl: row.ws_url,
      wsToken: openField(this.#keyring, ref, 'wsToken', row.ws_token),
      userAgent: row.user_agent,
      cookie: openField(this.#keyring, ref, 'cookie', row.cookie),
      proxyUrl: openField(this.#keyring, ref, 'proxyUrl', row.proxy_url),
    };
  }

  async markCredentialsRejected(id: string, reason: string): Promise<ModelRecord> {
    const modelId = requireId('model', id);
    const parsed = parseInput(reasonInput, { reason });
    return this.#mutateModel(modelId, (row, _ref, at) => {
      // Already rejected: keep the first time and reason, record nothing.
      if (row.ws_credentials_rejected_at !== null) return undefined;
      return {
        columns: { ws_credentials_rejected_at: at, ws_credentials_rejected_reason: parsed.reason },
        events: [{ kind: 'credentials_rejected', reason: parsed.reason }],
      };
    });
  }

  async refreshCredentials(id: string, credentials: RefreshedCredentials): Promise<ModelRecord> {
    const modelId = requireId('model', id);
    const fields = parseInput(refreshInput, credentials);
    return this.#mutateModel(modelId, (row, ref) => {
      const diff = diffCredentials(this.#keyring, row, fields);
      return {
        columns: { ...modelColumns(this.#keyring, ref, fields), ...CLEAR_REJECTED },
        events: [{ kind: 'credentials_refreshed', reason: credentialReason(diff) }],
      };
    });
  }

  async recordModelEvent(id: string, kind: ModelEventKind, reason: string): Promise<void> {
    const modelId = requireId('model', id);
    const event = parseInput(modelEventInput, { kind, reason });
    await this.#db.transaction().execute(async (trx) => {
      // Locked, so a removal on another node cannot commit between this read and the event.
      const row = await this.#locks.row(trx.selectFrom('models').select('org_id').where('id', '=', modelId)).executeTakeFirst();
      if (row === undefined) throw notFound('model', modelId);
      // No change row: the model's state is unchanged, so relays have nothing to re-check.
      await appendEvent(trx, { orgId: row.org_id, modelId }, event.kind, event.reason, now());
    });
  }

  async listModelEvents(modelId: string, limit: number = DEFAULT_EVENTS_PAGE): Promise<ModelEvent[]> {
    const query = parseInput(eventsQuery, { limit });
    const id = parseId(modelId);
    if (id === undefined) return [];
    const rows = await this.#db
      .selectFrom('model_events')
      .selectAll()
      .where('model_id', '=', id)
      .orderBy('seq', 'desc')
      .limit(query.limit)
      .execute();
    return rows.map(toModelEvent);
  }

  async listModelEventsAll(input: ModelEventsQuery = {}): Promise<ModelEvent[]> {
    const query = parseInput(allEventsQuery, { limit: input.limit ?? DEFAULT_EVENTS_PAGE, before: input.before });
    let select = this.#db.selectFrom('model_events').selectAll();
    if (input.orgId !== undefined) {
      const orgId = parseId(input.orgId);
      if (orgId === undefined) return [];
      select = select.where('org_id', '=', orgId);
    }
    if (query.before !== undefined) select = select.where('seq', '<', query.before);
    const rows = await select.orderBy('seq', 'desc').limit(query.limit).execute();
    return rows.map(toModelEvent);
  }

  async recordRelayClose(relay: ClosedRelay): Promise<void> {
    const actor = this.#actor;
    if (actor === undefined) throw new Error('recordRelayClose records an operator action: call it on store.as(actor)');
    const at = now();
    await this.#db.transaction().execute(async (trx) => {
      // The relay's organization, model or key may be gone already: the ids are kept regardless.
      const org = await trx.selectFrom('organizations').select(['id', 'name']).where('id', '=', relay.orgId).executeTakeFirst();
      const model = await trx.selectFrom('models').select('name').where('id', '=', relay.modelId).executeTakeFirst();
      const key = await trx.selectFrom('api_keys').select(['name', 'prefix']).where('id', '=', relay.keyId).executeTakeFirst();
      await appendAudit(
        trx,
        actor,
        {
          action: 'relay.closed',
          org: org ?? { id: relay.orgId, name: null },
          target: { kind: 'relay', id: relay.id, name: model?.name ?? null },
          details: { modelId: relay.modelId, keyId: relay.keyId, key: key ? keyLabel(key) : null, node: relay.node },
        },
        at,
      );
    });
  }

  async listAudit(query: AuditQuery = {}): Promise<AuditEntry[]> {
    return listAudit(this.#db, parseInput(auditQuery, query));
  }

  async changesSince(after: number, limit: number = DEFAULT_CHANGES_PAGE): Promise<Change[]> {
    const query = parseInput(changesQuery, { after, limit });
    const rows = await this.#db
      .selectFrom('changes')
      .selectAll()
      .where('seq', '>', query.after)
      .orderBy('seq')
      .limit(query.limit)
      .execute();
    return rows.map(toChange);
  }

  async latestChangeSeq(): Promise<number> {
    // `order by … desc limit 1` walks the primary key from its end on both engines.
    const row = await this.#db.selectFrom('changes').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirst();
    return row === undefined ? 0 : Number(row.seq);
  }

  async close(): Promise<void> {
    await this.#db.destroy();
  }

  /**
   * Appends change-feed rows, in order; always inside the mutation's own transaction, after
   * its other writes and reads (the feed's lock is then held only for the commit, see locks.ts).
   */
  async #appendChanges(trx: Trx, rows: ChangeRow[], at: string): Promise<void> {
    await this.#locks.changeFeed(trx);
    await trx.insertInto('changes').values(rows.map(([kind, entityId]) => ({ kind, entity_id: entityId, at }))).execute();
  }

  /** The operator trail's row for a change this store's actor made; nothing without an actor. */
  async #audit(trx: Trx, record: AuditRecord, at: string): Promise<void> {
    if (this.#actor !== undefined) await appendAudit(trx, this.#actor, record, at);
  }

  /** The organization's id and name for an audit row (null name if it is gone). */
  async #auditOrg(trx: Trx, orgId: string): Promise<{ id: string; name: string | null }> {
    const org = await trx.selectFrom('organizations').select('name').where('id', '=', orgId).executeTakeFirst();
    return { id: orgId, name: org?.name ?? null };
  }

  async #auditKey(trx: Trx, action: AuditAction, key: { id: string; org_id: string; name: string | null; prefix: string }, at: string, details?: AuditRecord['details']): Promise<void> {
    if (this.#actor === undefined) return;
    const org = await this.#auditOrg(trx, key.org_id);
    await this.#audit(trx, { action, org, target: { kind: 'key', id: key.id, name: keyLabel(key) }, details }, at);
  }

  async #auditModel(trx: Trx, action: AuditAction, model: { id: string; org_id: string; name: string | null }, at: string, details?: AuditRecord['details']): Promise<void> {
    if (this.#actor === undefined) return;
    const org = await this.#auditOrg(trx, model.org_id);
    await this.#audit(trx, { action, org, target: { kind: 'model', id: model.id, name: model.name }, details }, at);
  }

  /**
   * Reads the model inside a write transaction and applies `decide`'s columns, change row and
   * event, or nothing when it returns `undefined` (the model already is in that state). The
   * read locks the row, so concurrent mutations of one model (from any node) decide one after
   * the other, each on the state the previous one committed.
   */
  async #mutateModel(
    modelId: string,
    decide: (row: Selectable<ModelsTable>, ref: ModelRef, at: string) => ModelMutation | undefined,
  ): Promise<ModelRecord> {
    const row = await this.#db.transaction().execute(async (trx) => {
      await this.#locks.secretWrite(trx);
      const current = await this.#locks.row(trx.selectFrom('models').selectAll().where('id', '=', modelId)).executeTakeFirst();
      if (current === undefined) throw notFound('model', modelId);
      const ref = { orgId: current.org_id, modelId };
      const at = now();
      const mutation = decide(current, ref, at);
      if (mutation === undefined) return current;
      const updated = await trx
        .updateTable('models')
        .set({ ...mutation.columns, updated_at: at })
        .where('id', '=', modelId)
        .returningAll()
        .executeTakeFirstOrThrow();
      for (const event of mutation.events ?? []) await appendEvent(trx, ref, event.kind, event.reason, at);
      if (mutation.audit) await this.#auditModel(trx, mutation.audit.action, updated, at, mutation.audit.details);
      await this.#appendChanges(trx, [['model', modelId]], at);
      return updated;
    });
    return toModel(row);
  }
}
