/**
 * The {@link Store} over Kysely. It uses only SQL that SQLite and PostgreSQL share
 * (`returning`, `on conflict … do update`), so the PostgreSQL store will be this class
 * given another Kysely instance.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction, Updateable } from 'kysely';
import { digestsEqual, generateApiKey, hashApiKey, isWellFormedApiKey } from '../auth/api-key.js';
import { toApiKey, toChange, toModel, toOrganization, toSubscription } from './records.js';
import type { Database, ModelsTable } from './schema.js';
import type {
  ApiKeyRecord,
  Change,
  ChangeKind,
  CreatedApiKey,
  ModelCredentials,
  ModelPatch,
  ModelRecord,
  ModelStatus,
  NewModel,
  Organization,
  Store,
  Subscription,
  SubscriptionStatus,
} from './types.js';
import { TOUCH_INTERVAL_MS } from './types.js';
import {
  apiKeyInput,
  changesQuery,
  modelInput,
  modelPatchInput,
  modelStatusInput,
  notFound,
  organizationInput,
  parseId,
  parseInput,
  requireId,
  subscriptionInput,
  touchInput,
} from './validation.js';


const DEFAULT_CHANGES_PAGE = 1000;

type Trx = Transaction<Database>;

const now = (): string => new Date().toISOString();

/** Appends a change-feed row; always called inside the mutation's own transaction. */
async function appendChange(trx: Trx, kind: ChangeKind, entityId: string, at: string): Promise<void> {
  await trx.insertInto('changes').values({ kind, entity_id: entityId, at }).execute();
}

async function requireOrganization(trx: Trx, orgId: string): Promise<void> {
  const row = await trx.selectFrom('organizations').select('id').where('id', '=', orgId).executeTakeFirst();
  if (row === undefined) throw notFound('organization', orgId);
}

/** Model fields to columns; `undefined` fields stay out of the statement (Kysely skips them). */
function modelColumns(fields: ModelPatch): Updateable<ModelsTable> {
  return {
    name: fields.name,
    ws_url: fields.wsUrl,
    ws_token: fields.wsToken,
    user_agent: fields.userAgent,
    cookie: fields.cookie,
    proxy_url: fields.proxyUrl,
  };
}

export class KyselyStore implements Store {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async createOrganization(input: { name: string; sandbox?: boolean }): Promise<Organization> {
    const { name, sandbox } = parseInput(organizationInput, input);
    const row = { id: randomUUID(), name, sandbox: sandbox ? 1 : 0, created_at: now() };
    await this.#db.transaction().execute(async (trx) => {
      await trx.insertInto('organizations').values(row).execute();
      await appendChange(trx, 'organization', row.id, row.created_at);
    });
    return toOrganization(row);
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
    const row = await this.#db.selectFrom('organizations').select('id').limit(1).executeTakeFirst();
    return row === undefined;
  }

  async setSubscription(
    orgId: string,
    input: { status: SubscriptionStatus; plan?: string | null },
  ): Promise<Subscription> {
    const id = requireId('organization', orgId);
    const { status, plan = null } = parseInput(subscriptionInput, input);
    const at = now();
    const row = await this.#db.transaction().execute(async (trx) => {
      await requireOrganization(trx, id);
      const saved = await trx
        .insertInto('subscriptions')
        .values({ org_id: id, status, plan, created_at: at, updated_at: at })
        .onConflict((oc) => oc.column('org_id').doUpdateSet({ status, plan, updated_at: at }))
        .returningAll()
        .executeTakeFirstOrThrow();
      await appendChange(trx, 'subscription', id, at);
      return saved;
    });
    return toSubscription(row);
  }

  async getSubscription(orgId: string): Promise<Subscription | undefined> {
    const id = parseId(orgId);
    if (id === undefined) return undefined;
    const row = await this.#db.selectFrom('subscriptions').selectAll().where('org_id', '=', id).executeTakeFirst();
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
    };
    await this.#db.transaction().execute(async (trx) => {
      await requireOrganization(trx, id);
      await trx.insertInto('api_keys').values(row).execute();
      await appendChange(trx, 'api_key', row.id, row.created_at);
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
      const revoked = await trx
        .updateTable('api_keys')
        .set({ revoked_at: at })
        .where('id', '=', keyId)
        .where('revoked_at', 'is', null)
        .returningAll()
        .executeTakeFirst();
      if (revoked !== undefined) {
        await appendChange(trx, 'api_key', keyId, at);
        return revoked;
      }
      // Already revoked (keep the first time, no new change) or missing.
      const existing = await trx.selectFrom('api_keys').selectAll().where('id', '=', keyId).executeTakeFirst();
      if (existing === undefined) throw notFound('API key', keyId);
      return existing;
    });
    return toApiKey(row);
  }

  async findApiKey(plaintext: string): Promise<ApiKeyRecord | undefined> {
    if (typeof plaintext !== 'string' || !isWellFormedApiKey(plaintext)) return undefined;
    const hash = hashApiKey(plaintext);
    const row = await this.#db.selectFrom('api_keys').selectAll().where('key_hash', '=', hash).executeTakeFirst();
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
    const row = await this.#db.transaction().execute(async (trx) => {
      await requireOrganization(trx, id);
      const created = await trx
        .insertInto('models')
        .values({ ...modelColumns(fields), id: randomUUID(), org_id: id, status: 'connected', created_at: at, updated_at: at })
        .returningAll()
        .executeTakeFirstOrThrow();
      await appendChange(trx, 'model', created.id, at);
      return created;
    });
    return toModel(row);
  }

  async getModel(id: string): Promise<ModelRecord | undefined> {
    const modelId = parseId(id);
    if (modelId === undefined) return undefined;
    const row = await this.#db.selectFrom('models').selectAll().where('id', '=', modelId).executeTakeFirst();
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

  async updateModel(id: string, patch: ModelPatch): Promise<ModelRecord> {
    const modelId = requireId('model', id);
    const columns = modelColumns(parseInput(modelPatchInput, patch));
    if (Object.values(columns).every((value) => value === undefined)) {
      // Nothing to change: no write, no change row.
      const current = await this.getModel(modelId);
      if (current === undefined) throw notFound('model', modelId);
      return current;
    }
    return this.#updateModel(modelId, columns);
  }

  async setModelStatus(id: string, status: ModelStatus): Promise<ModelRecord> {
    const modelId = requireId('model', id);
    const parsed = parseInput(modelStatusInput, { status });
    return this.#updateModel(modelId, { status: parsed.status });
  }

  async removeModel(id: string): Promise<void> {
    const modelId = requireId('model', id);
    await this.#db.transaction().execute(async (trx) => {
      const removed = await trx.deleteFrom('models').where('id', '=', modelId).returning('id').executeTakeFirst();
      if (removed === undefined) throw notFound('model', modelId);
      await appendChange(trx, 'model', modelId, now());
    });
  }

  async getModelCredentials(id: string): Promise<ModelCredentials | undefined> {
    const modelId = parseId(id);
    if (modelId === undefined) return undefined;
    const row = await this.#db
      .selectFrom('models')
      .select([
        'ws_url as wsUrl',
        'ws_token as wsToken',
        'user_agent as userAgent',
        'cookie',
        'proxy_url as proxyUrl',
      ])
      .where('id', '=', modelId)
      .executeTakeFirst();
    return row;
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

  async #updateModel(modelId: string, columns: Updateable<ModelsTable>): Promise<ModelRecord> {
    const at = now();
    const row = await this.#db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('models')
        .set({ ...columns, updated_at: at })
        .where('id', '=', modelId)
        .returningAll()
        .executeTakeFirst();
      if (updated === undefined) throw notFound('model', modelId);
      await appendChange(trx, 'model', modelId, at);
      return updated;
    });
    return toModel(row);
  }
}
