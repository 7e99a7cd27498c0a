/**
 * Helpers for the store's model mutations: secret columns sealed inside the write
 * transaction, credential-change detection and the audit trail. Sealing happens inside the
 * transaction (which holds the secret-write lock, see locks.ts) on purpose: `ofgw secrets
 * rotate` switches the current key, then re-encrypts in transactions that queue behind any
 * write already holding the lock, so a value encrypted under the old key is always committed
 * before the re-encryption pass reads it.
 */
import type { Selectable, Transaction, Updateable } from 'kysely';
import type { Keyring } from '../secrets/index.js';
import { maskedProxy, SECRET_COLUMNS, sealField, tryOpenField, type ModelRef, type SecretField } from './model-secrets.js';
import type { Database, ModelsTable } from './schema.js';
import type { ModelEventKind, ModelPatch } from './types.js';
import { enqueueLifecycle } from './webhooks.js';

export type Trx = Transaction<Database>;

/** Appends an audit-trail row and its lifecycle webhooks; always inside the mutation's own transaction. */
export async function appendEvent(
  trx: Trx,
  ref: ModelRef,
  kind: ModelEventKind,
  reason: string | null,
  at: string,
): Promise<void> {
  const { seq } = await trx
    .insertInto('model_events')
    .values({ model_id: ref.modelId, org_id: ref.orgId, kind, reason, at })
    .returning('seq')
    .executeTakeFirstOrThrow();
  // The lifecycle webhooks commit with the event: none lost, none twice.
  await enqueueLifecycle(trx, ref.orgId, ref.modelId, Number(seq), kind, reason, at);
}

/** Model fields to columns, secrets encrypted; `undefined` fields stay out of the statement. */
export function modelColumns(keyring: Keyring, ref: ModelRef, fields: ModelPatch): Updateable<ModelsTable> {
  return {
    name: fields.name,
    ws_url: fields.wsUrl,
    ws_token: sealField(keyring, ref, 'wsToken', fields.wsToken),
    user_agent: fields.userAgent,
    cookie: sealField(keyring, ref, 'cookie', fields.cookie),
    proxy_url: sealField(keyring, ref, 'proxyUrl', fields.proxyUrl),
    proxy_url_masked: maskedProxy(fields.proxyUrl),
    delivery: fields.delivery,
  };
}

type CredentialField = 'wsUrl' | 'wsToken' | 'userAgent' | 'cookie' | 'proxyUrl';
const CREDENTIAL_FIELDS: readonly CredentialField[] = ['wsUrl', 'wsToken', 'userAgent', 'cookie', 'proxyUrl'];

export interface CredentialDiff {
  /** Credential fields the patch names. */
  given: CredentialField[];
  /** Those whose value differs from the stored one (an undecryptable old value counts). */
  changed: CredentialField[];
}

/** Compares the patch's credential fields with the row; names only, never values. */
export function diffCredentials(keyring: Keyring, row: Selectable<ModelsTable>, fields: ModelPatch): CredentialDiff {
  const ref = { orgId: row.org_id, modelId: row.id };
  const stored = (field: CredentialField): string | null | undefined => {
    switch (field) {
      case 'wsUrl':
        return row.ws_url;
      case 'userAgent':
        return row.user_agent;
      default:
        return tryOpenField(keyring, ref, field satisfies SecretField, row[SECRET_COLUMNS[field]]);
    }
  };
  const given = CREDENTIAL_FIELDS.filter((field) => fields[field] !== undefined);
  return { given, changed: given.filter((field) => fields[field] !== stored(field)) };
}

/** The reason recorded with a credential event: which fields, never their values. */
export function credentialReason({ given, changed }: CredentialDiff): string {
  return changed.length > 0 ? `changed: ${changed.join(', ')}` : `re-entered unchanged: ${given.join(', ')}`;
}
