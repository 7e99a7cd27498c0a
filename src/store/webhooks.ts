/**
 * The {@link WebhookStore} over Kysely, both engines. Deliveries are an outbox: every node's
 * worker claims due rows for a lease, sends them and records the attempt; a node killed
 * mid-send leaves a claim that simply runs out.
 *
 * Secrets are sealed with the store's keyring, bound to `ofgw:webhook:<org>:<endpoint>:<field>`,
 * so a ciphertext copied to another endpoint fails authentication instead of signing for it.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { z } from 'zod';
import type { Keyring } from '../secrets/index.js';
import { lifecycleBody, lifecycleType, testBody, TEST_TYPE, typeMatches } from '../webhooks/payloads.js';
import type { DialectName } from './dialect.js';
import { StoreError } from './errors.js';
import { SecretsError } from '../secrets/index.js';
import type { Database, WebhookAttemptsTable, WebhookDeliveriesTable, WebhookEndpointsTable } from './schema.js';
import { eventReason, notFound, parseId, parseInput, requireId } from './validation.js';
import {
  WEBHOOK_DELIVERY_STATUSES,
  type AttemptOutcome,
  type AttemptRecord,
  type ClaimedDelivery,
  type DeliveriesQuery,
  type NewWebhookEndpoint,
  type WebhookAttempt,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEndpointPatch,
  type WebhookEndpointWithSecret,
  type WebhookEventInput,
  type WebhookStore,
} from './webhook-types.js';

type Db = Kysely<Database>;
type EndpointRow = Selectable<WebhookEndpointsTable>;

export type WebhookSecretField = 'secret' | 'previousSecret';
/** Column of each webhook secret field (secret-maintenance.ts re-encrypts both). */
export const WEBHOOK_SECRET_COLUMNS = { secret: 'secret', previousSecret: 'previous_secret' } as const;

/** The authenticated data binding a webhook secret to its organization, endpoint and field. */
export function webhookSecretAad(orgId: string, endpointId: string, field: WebhookSecretField): string {
  return `ofgw:webhook:${orgId}:${endpointId}:${field}`;
}

const MAX_URL_LENGTH = 2048;
const MAX_FILTER_ENTRIES = 100;
const MAX_PAGE = 1000;
const DEFAULT_PAGE = 50;
/** Rows per insert: far below SQLite's bound on statement variables. */
const INSERT_CHUNK = 200;
/** 24 bytes: Standard Webhooks asks for 24 to 64. */
const SECRET_BYTES = 24;

const url = z
  .string()
  .trim()
  .max(MAX_URL_LENGTH, `must be at most ${MAX_URL_LENGTH} characters`)
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'https:' || u.protocol === 'http:') && u.hostname !== '' && u.username === '' && u.password === '';
    } catch {
      return false;
    }
  }, 'must be an https:// (or, where allowed, http://) URL with a host and no user name or password');

const eventTypeRule = 'must list event types such as onlyfans.api2_chat_message, model.connected, onlyfans.* or *';
const events = z
  .array(z.string().trim().regex(/^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)$/i, eventTypeRule).max(200, eventTypeRule), eventTypeRule)
  .min(1, eventTypeRule)
  .max(MAX_FILTER_ENTRIES, `must list at most ${MAX_FILTER_ENTRIES} event types`);
const modelsRule = 'must list model ids (UUIDs)';
const models = z
  .array(z.uuid(modelsRule).transform((s) => s.toLowerCase()), modelsRule)
  .min(1, modelsRule)
  .max(MAX_FILTER_ENTRIES, `must list at most ${MAX_FILTER_ENTRIES} models`);

const endpointInput = z.object({
  url,
  events: events.nullish(),
  models: models.nullish(),
  enabled: z.boolean('must be true or false').default(true),
});
const endpointPatch = z.object({
  url: url.optional(),
  events: events.nullish(),
  models: models.nullish(),
  enabled: z.boolean('must be true or false').optional(),
});
const overlapRule = 'must be a whole number of milliseconds, 0 or more';
const rotationInput = z.object({ overlapMs: z.number(overlapRule).int(overlapRule).min(0, overlapRule) });
const pageRule = `must be a whole number from 1 to ${MAX_PAGE}`;
const deliveriesQuery = z.object({
  status: z.enum(WEBHOOK_DELIVERY_STATUSES, { error: `must be one of ${WEBHOOK_DELIVERY_STATUSES.join(', ')}` }).optional(),
  limit: z.number(pageRule).int(pageRule).min(1, pageRule).max(MAX_PAGE, pageRule).default(DEFAULT_PAGE),
  before: z.string().optional(),
});
const claimInput = z.object({ limit: z.number().int().min(1).max(MAX_PAGE), leaseMs: z.number().int().min(1) });

/** A new signing secret, `whsec_<base64>`. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(SECRET_BYTES).toString('base64')}`;
}

/**
 * The delivery's webhook id: the same endpoint and event always give the same id, which the
 * primary key then keeps to one row. 128 bits of SHA-256, base64url.
 */
export function webhookId(endpointId: string, key: string): string {
  return `msg_${createHash('sha256').update(`${endpointId}\n${key}`).digest('base64url').slice(0, 22)}`;
}

const now = (): string => new Date().toISOString();
const parseList = (json: string | null): string[] | null => (json === null ? null : (JSON.parse(json) as string[]));
const listColumn = (list: string[] | null | undefined): string | null | undefined => (list === undefined ? undefined : list === null ? null : JSON.stringify(list));

function toEndpoint(row: EndpointRow): WebhookEndpoint {
  return {
    id: row.id,
    orgId: row.org_id,
    url: row.url,
    events: parseList(row.event_types),
    models: parseList(row.model_ids),
    enabled: row.enabled !== 0,
    disabledReason: row.disabled_reason,
    previousSecretUntil: row.previous_secret === null ? null : row.previous_secret_until,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toDelivery(row: Selectable<WebhookDeliveriesTable>): WebhookDelivery {
  return {
    id: row.id,
    endpointId: row.endpoint_id,
    orgId: row.org_id,
    modelId: row.model_id,
    type: row.type,
    payload: row.payload,
    status: row.status,
    attempts: Number(row.attempts),
    nextAttemptAt: row.next_attempt_at,
    lastStatusCode: row.last_status_code === null ? null : Number(row.last_status_code),
    lastError: row.last_error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toAttempt(row: Selectable<WebhookAttemptsTable>): WebhookAttempt {
  return {
    seq: Number(row.seq),
    deliveryId: row.delivery_id,
    node: row.node,
    at: row.at,
    statusCode: row.status_code === null ? null : Number(row.status_code),
    error: row.error,
    latencyMs: Number(row.latency_ms),
  };
}

/** Whether the endpoint takes an event: enabled, filters match, and it existed when it happened. */
function wants(endpoint: EndpointRow, event: WebhookEventInput): boolean {
  if (endpoint.enabled === 0 || event.occurredAt < endpoint.created_at) return false;
  const modelIds = parseList(endpoint.model_ids);
  if (modelIds !== null && (event.modelId === null || !modelIds.includes(event.modelId))) return false;
  return typeMatches(parseList(endpoint.event_types), event.type);
}

/** A new delivery row, due now and claimed by nobody. */
function pendingDelivery(id: string, endpointId: string, orgId: string, modelId: string | null, type: string, payload: string, at: string): WebhookDeliveriesTable {
  return {
    id,
    endpoint_id: endpointId,
    org_id: orgId,
    model_id: modelId,
    type,
    payload,
    status: 'pending',
    attempts: 0,
    next_attempt_at: at,
    claimed_by: null,
    claimed_until: null,
    last_status_code: null,
    last_error: null,
    created_at: at,
    updated_at: at,
  };
}

/**
 * Inserts the deliveries the events make for the organization's endpoints, skipping those
 * that exist; inside the caller's transaction. Returns how many are new.
 */
export async function enqueueEvents(trx: Db, orgId: string, events: readonly WebhookEventInput[]): Promise<number> {
  if (events.length === 0) return 0;
  const endpoints = await trx.selectFrom('webhook_endpoints').selectAll().where('org_id', '=', orgId).where('enabled', '=', 1).execute();
  if (endpoints.length === 0) return 0;
  const at = now();
  const rows: Array<Omit<WebhookDeliveriesTable, never>> = [];
  for (const event of events) {
    for (const endpoint of endpoints) {
      if (!wants(endpoint, event)) continue;
      rows.push(pendingDelivery(webhookId(endpoint.id, event.key), endpoint.id, orgId, event.modelId, event.type, event.payload, at));
    }
  }
  let created = 0;
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    const inserted = await trx
      .insertInto('webhook_deliveries')
      .values(rows.slice(i, i + INSERT_CHUNK))
      .onConflict((oc) => oc.column('id').doNothing())
      .returning('id')
      .execute();
    created += inserted.length;
  }
  return created;
}

/**
 * The lifecycle delivery of a model event just recorded (model-writes.ts), in the same
 * transaction: the event and its deliveries commit together or not at all.
 */
export async function enqueueLifecycle(trx: Db, orgId: string, modelId: string, seq: number, kind: string, reason: string | null, at: string): Promise<void> {
  const type = lifecycleType(kind);
  if (type === undefined) return;
  await enqueueEvents(trx, orgId, [{ key: `lifecycle:${seq}`, type, modelId, occurredAt: at, payload: lifecycleBody(type, modelId, reason, at) }]);
}

export class KyselyWebhookStore implements WebhookStore {
  constructor(
    private readonly db: Db,
    private readonly keyring: Keyring,
    private readonly dialect: DialectName,
    /** Takes the secret-write lock inside a transaction (see locks.ts). */
    private readonly secretWrite: (trx: Db) => Promise<void>,
  ) {}

  async createEndpoint(orgId: string, input: NewWebhookEndpoint): Promise<WebhookEndpointWithSecret> {
    const org = requireId('organization', orgId);
    const fields = parseInput(endpointInput, input);
    const id = randomUUID();
    const secret = newWebhookSecret();
    const at = now();
    const row = await this.db.transaction().execute(async (trx) => {
      await this.secretWrite(trx);
      const exists = await trx.selectFrom('organizations').select('id').where('id', '=', org).executeTakeFirst();
      if (exists === undefined) throw notFound('organization', org);
      return trx
        .insertInto('webhook_endpoints')
        .values({
          id,
          org_id: org,
          url: fields.url,
          event_types: listColumn(fields.events) ?? null,
          model_ids: listColumn(fields.models) ?? null,
          enabled: fields.enabled ? 1 : 0,
          disabled_reason: fields.enabled ? null : 'created disabled',
          secret: this.keyring.encrypt(secret, webhookSecretAad(org, id, 'secret')),
          previous_secret: null,
          previous_secret_until: null,
          created_at: at,
          updated_at: at,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    });
    return { ...toEndpoint(row), secret };
  }

  async getEndpoint(id: string): Promise<WebhookEndpoint | undefined> {
    const endpointId = parseId(id);
    if (endpointId === undefined) return undefined;
    const row = await this.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', endpointId).executeTakeFirst();
    return row && toEndpoint(row);
  }

  async listEndpoints(orgId?: string): Promise<WebhookEndpoint[]> {
    let query = this.db.selectFrom('webhook_endpoints').selectAll().orderBy('created_at').orderBy('id');
    if (orgId !== undefined) {
      const org = parseId(orgId);
      if (org === undefined) return [];
      query = query.where('org_id', '=', org);
    }
    return (await query.execute()).map(toEndpoint);
  }

  async updateEndpoint(id: string, patch: WebhookEndpointPatch): Promise<WebhookEndpoint> {
    const endpointId = requireId('webhook endpoint', id);
    const fields = parseInput(endpointPatch, patch);
    const set = {
      url: fields.url,
      event_types: listColumn(fields.events),
      model_ids: listColumn(fields.models),
      ...(fields.enabled === undefined ? {} : { enabled: fields.enabled ? 1 : 0, disabled_reason: fields.enabled ? null : 'disabled by an operator' }),
    };
    if (Object.values(set).every((v) => v === undefined)) {
      const current = await this.getEndpoint(endpointId);
      if (current === undefined) throw notFound('webhook endpoint', endpointId);
      return current;
    }
    const row = await this.db.updateTable('webhook_endpoints').set({ ...set, updated_at: now() }).where('id', '=', endpointId).returningAll().executeTakeFirst();
    if (row === undefined) throw notFound('webhook endpoint', endpointId);
    return toEndpoint(row);
  }

  async removeEndpoint(id: string): Promise<void> {
    const endpointId = requireId('webhook endpoint', id);
    // Its deliveries and their attempts go by cascade (SQLite: foreign_keys is on, sqlite.ts).
    const removed = await this.db.deleteFrom('webhook_endpoints').where('id', '=', endpointId).returning('id').executeTakeFirst();
    if (removed === undefined) throw notFound('webhook endpoint', endpointId);
  }

  async rotateSecret(id: string, overlapMs: number): Promise<WebhookEndpointWithSecret> {
    const endpointId = requireId('webhook endpoint', id);
    const { overlapMs: overlap } = parseInput(rotationInput, { overlapMs });
    const secret = newWebhookSecret();
    const row = await this.db.transaction().execute(async (trx) => {
      await this.secretWrite(trx);
      const current = await this.lockRow(trx, endpointId);
      const at = new Date();
      const ref = { org: current.org_id, id: endpointId };
      // The current secret, re-sealed as the previous one (its binding names the field).
      const previous = overlap === 0 ? null : this.keyring.encrypt(this.open(current, 'secret'), webhookSecretAad(ref.org, ref.id, 'previousSecret'));
      return trx
        .updateTable('webhook_endpoints')
        .set({
          secret: this.keyring.encrypt(secret, webhookSecretAad(ref.org, ref.id, 'secret')),
          previous_secret: previous,
          previous_secret_until: previous === null ? null : new Date(at.getTime() + overlap).toISOString(),
          updated_at: at.toISOString(),
        })
        .where('id', '=', endpointId)
        .returningAll()
        .executeTakeFirstOrThrow();
    });
    return { ...toEndpoint(row), secret };
  }

  async disableEndpoint(id: string, reason: string): Promise<WebhookEndpoint> {
    const endpointId = requireId('webhook endpoint', id);
    const { reason: why } = parseInput(z.object({ reason: eventReason }), { reason });
    const row = await this.db
      .updateTable('webhook_endpoints')
      .set({ enabled: 0, disabled_reason: why ?? 'disabled', updated_at: now() })
      .where('id', '=', endpointId)
      .returningAll()
      .executeTakeFirst();
    if (row === undefined) throw notFound('webhook endpoint', endpointId);
    return toEndpoint(row);
  }

  async enqueue(orgId: string, events: readonly WebhookEventInput[], cursor?: { modelId: string; eventId: string }): Promise<number> {
    const org = requireId('organization', orgId);
    return this.db.transaction().execute(async (trx) => {
      const created = await enqueueEvents(trx, org, events);
      if (cursor !== undefined) {
        const at = now();
        await trx
          .insertInto('webhook_intake')
          .values({ model_id: cursor.modelId, last_event_id: cursor.eventId, updated_at: at })
          .onConflict((oc) => oc.column('model_id').doUpdateSet({ last_event_id: cursor.eventId, updated_at: at }))
          .execute();
      }
      return created;
    });
  }

  async enqueueTest(endpointId: string): Promise<WebhookDelivery> {
    const id = requireId('webhook endpoint', endpointId);
    const endpoint = await this.db.selectFrom('webhook_endpoints').select(['id', 'org_id']).where('id', '=', id).executeTakeFirst();
    if (endpoint === undefined) throw notFound('webhook endpoint', id);
    const at = now();
    const row = await this.db
      .insertInto('webhook_deliveries')
      // A test is a new message each time: the receiver must not drop it as a duplicate.
      .values(pendingDelivery(webhookId(id, `test:${randomUUID()}`), id, endpoint.org_id, null, TEST_TYPE, testBody(id, at), at))
      .returningAll()
      .executeTakeFirstOrThrow();
    return toDelivery(row);
  }

  async hasEnabledEndpoints(orgId: string): Promise<boolean> {
    const org = parseId(orgId);
    if (org === undefined) return false;
    const row = await this.db.selectFrom('webhook_endpoints').select('id').where('org_id', '=', org).where('enabled', '=', 1).limit(1).executeTakeFirst();
    return row !== undefined;
  }

  async intakeCursor(modelId: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('webhook_intake').select('last_event_id').where('model_id', '=', modelId).executeTakeFirst();
    return row?.last_event_id;
  }

  async claimDue(node: string, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    const claim = parseInput(claimInput, { limit, leaseMs });
    const at = new Date();
    const nowIso = at.toISOString();
    const until = new Date(at.getTime() + claim.leaseMs).toISOString();
    const due = this.db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_endpoints as e', 'e.id', 'd.endpoint_id')
      .select('d.id')
      .where('d.status', '=', 'pending')
      .where('d.next_attempt_at', '<=', nowIso)
      .where((eb) => eb.or([eb('d.claimed_until', 'is', null), eb('d.claimed_until', '<', nowIso)]))
      .where('e.enabled', '=', 1)
      .orderBy('d.next_attempt_at')
      .limit(claim.limit);
    const mine = { claimed_by: node, claimed_until: until };
    // PostgreSQL: rows another node is claiming right now are skipped, not waited for, and the
    // due rows are picked once, in a CTE: as an `in (…)` subquery the planner may run the limited
    // select more than once and claim more rows than asked for. SQLite has one writer, and
    // this is one statement.
    const rows =
      this.dialect === 'postgres'
        ? await this.db
            .with('due', () => due.forUpdate('d').skipLocked())
            .updateTable('webhook_deliveries')
            .set(mine)
            .from('due')
            .whereRef('webhook_deliveries.id', '=', 'due.id')
            .returningAll('webhook_deliveries')
            .execute()
        : await this.db.updateTable('webhook_deliveries').set(mine).where('id', 'in', due).where('status', '=', 'pending').returningAll().execute();
    if (rows.length === 0) return [];
    const endpoints = new Map(
      (await this.db.selectFrom('webhook_endpoints').selectAll().where('id', 'in', [...new Set(rows.map((r) => r.endpoint_id))]).execute()).map((e) => [e.id, e]),
    );
    const claimed: ClaimedDelivery[] = [];
    for (const row of rows) {
      const endpoint = endpoints.get(row.endpoint_id);
      if (endpoint === undefined) continue; // removed meanwhile: its deliveries went with it
      claimed.push({ ...toDelivery(row), url: endpoint.url, secrets: this.signingSecrets(endpoint, nowIso), claimedUntil: until });
    }
    return claimed;
  }

  async recordAttempt(deliveryId: string, node: string, attempt: AttemptRecord, outcome: AttemptOutcome): Promise<void> {
    const error = attempt.error === null ? null : parseInput(z.object({ e: eventReason }), { e: attempt.error }).e;
    await this.db.transaction().execute(async (trx) => {
      const delivery = await trx.selectFrom('webhook_deliveries').select(['endpoint_id']).where('id', '=', deliveryId).executeTakeFirst();
      if (delivery === undefined) return; // its endpoint was removed meanwhile
      await trx
        .insertInto('webhook_attempts')
        .values({ delivery_id: deliveryId, node, at: attempt.at, status_code: attempt.statusCode, error, latency_ms: Math.max(0, Math.round(attempt.latencyMs)) })
        .execute();
      await trx
        .updateTable('webhook_deliveries')
        .set((eb) => ({
          status: outcome.status,
          attempts: eb('attempts', '+', 1),
          next_attempt_at: outcome.status === 'pending' ? outcome.nextAttemptAt : null,
          claimed_by: null,
          claimed_until: null,
          last_status_code: attempt.statusCode,
          last_error: error,
          updated_at: now(),
        }))
        .where('id', '=', deliveryId)
        .where('claimed_by', '=', node)
        .where('status', '=', 'pending')
        .execute();
      if (outcome.status === 'failed' && outcome.disableEndpoint !== undefined) {
        await trx
          .updateTable('webhook_endpoints')
          .set({ enabled: 0, disabled_reason: outcome.disableEndpoint, updated_at: now() })
          .where('id', '=', delivery.endpoint_id)
          .execute();
      }
    });
  }

  async getDelivery(id: string): Promise<WebhookDelivery | undefined> {
    const row = await this.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toDelivery(row);
  }

  async listDeliveries(endpointId: string, query: DeliveriesQuery = {}): Promise<WebhookDelivery[]> {
    const q = parseInput(deliveriesQuery, query);
    const id = parseId(endpointId);
    if (id === undefined) return [];
    let select = this.db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', id);
    if (q.status !== undefined) select = select.where('status', '=', q.status);
    if (q.before !== undefined) {
      const before = await this.db.selectFrom('webhook_deliveries').select(['created_at', 'id']).where('id', '=', q.before).executeTakeFirst();
      if (before === undefined) return [];
      select = select.where((eb) => eb.or([eb('created_at', '<', before.created_at), eb.and([eb('created_at', '=', before.created_at), eb('id', '<', before.id)])]));
    }
    const rows = await select.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
    return rows.map(toDelivery);
  }

  async listAttempts(deliveryId: string): Promise<WebhookAttempt[]> {
    const rows = await this.db.selectFrom('webhook_attempts').selectAll().where('delivery_id', '=', deliveryId).orderBy('seq').execute();
    return rows.map(toAttempt);
  }

  async redeliver(deliveryId: string): Promise<WebhookDelivery> {
    const at = now();
    const row = await this.db
      .updateTable('webhook_deliveries')
      .set({ status: 'pending', attempts: 0, next_attempt_at: at, claimed_by: null, claimed_until: null, updated_at: at })
      .where('id', '=', deliveryId)
      .returningAll()
      .executeTakeFirst();
    // Not echoed in full: a delivery id is short, a mistyped argument may not be.
    if (row === undefined) throw new StoreError('NOT_FOUND', `webhook delivery ${deliveryId.slice(0, 40)} not found`);
    return toDelivery(row);
  }

  /** The endpoint row, locked for the rest of the transaction (PostgreSQL), or NOT_FOUND. */
  private async lockRow(trx: Db, endpointId: string): Promise<EndpointRow> {
    let query = trx.selectFrom('webhook_endpoints').selectAll().where('id', '=', endpointId);
    if (this.dialect === 'postgres') query = query.forUpdate();
    const row = await query.executeTakeFirst();
    if (row === undefined) throw notFound('webhook endpoint', endpointId);
    return row;
  }

  private open(row: EndpointRow, field: WebhookSecretField): string {
    const stored = field === 'secret' ? row.secret : row.previous_secret;
    if (stored === null) throw new Error(`webhook endpoint ${row.id} has no ${field}`);
    try {
      return this.keyring.decrypt(stored, webhookSecretAad(row.org_id, row.id, field));
    } catch (error) {
      if (!(error instanceof SecretsError)) throw error;
      throw new SecretsError(error.code, `cannot decrypt the ${field} of webhook endpoint ${row.id}: ${error.message}`);
    }
  }

  /** The secrets that sign at `at`: the current one, and the previous one during its overlap. */
  private signingSecrets(row: EndpointRow, at: string): string[] {
    const secrets = [this.open(row, 'secret')];
    if (row.previous_secret !== null && row.previous_secret_until !== null && row.previous_secret_until > at) secrets.push(this.open(row, 'previousSecret'));
    return secrets;
  }
}
