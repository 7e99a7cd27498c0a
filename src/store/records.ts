/**
 * Rows to the public record shapes: camelCase, booleans, and secrets reduced to presence
 * flags or masked, so nothing that lists or shows a record can leak a credential.
 */
import type { Selectable } from 'kysely';
import type { ApiKeysTable, AuditEventsTable, ChangesTable, ModelEventsTable, ModelsTable, OrganizationsTable, SubscriptionsTable } from './schema.js';
import type { ApiKeyRecord, AuditDetails, AuditEntry, Change, ModelEvent, ModelRecord, Organization, Subscription } from './types.js';

export function toOrganization(row: Selectable<OrganizationsTable>): Organization {
  return { id: row.id, name: row.name, sandbox: row.sandbox !== 0, createdAt: row.created_at };
}

export function toSubscription(row: Selectable<SubscriptionsTable>): Subscription {
  return { orgId: row.org_id, status: row.status, plan: row.plan, createdAt: row.created_at, updatedAt: row.updated_at };
}

export function toApiKey(row: Selectable<ApiKeysTable>): ApiKeyRecord {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
    expiresAt: row.expires_at,
    replacedBy: row.replaced_by,
  };
}

export function toModel(row: Selectable<ModelsTable>): ModelRecord {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    status: row.status,
    delivery: row.delivery,
    wsUrl: row.ws_url,
    hasWsToken: row.ws_token !== null,
    userAgent: row.user_agent,
    hasCookie: row.cookie !== null,
    // The masked copy, written beside the encrypted URL, so a listing needs no key.
    proxyUrl: row.proxy_url === null ? null : row.proxy_url_masked,
    credentialsRejectedAt: row.ws_credentials_rejected_at,
    credentialsRejectedReason: row.ws_credentials_rejected_reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** `seq` goes through `Number` because PostgreSQL drivers return a bigint column as a string. */
export function toChange(row: Selectable<ChangesTable>): Change {
  return { seq: Number(row.seq), kind: row.kind, entityId: row.entity_id, at: row.at };
}

export function toModelEvent(row: Selectable<ModelEventsTable>): ModelEvent {
  return { seq: Number(row.seq), modelId: row.model_id, orgId: row.org_id, kind: row.kind, reason: row.reason, at: row.at };
}

export function toAuditEntry(row: Selectable<AuditEventsTable>): AuditEntry {
  return {
    seq: Number(row.seq),
    at: row.at,
    actorKind: row.actor_kind,
    actorDetail: row.actor_detail,
    action: row.action,
    orgId: row.org_id,
    orgName: row.org_name,
    targetKind: row.target_kind,
    targetId: row.target_id,
    targetName: row.target_name,
    details: row.details === null ? null : (JSON.parse(row.details) as AuditDetails),
  };
}

/**
 * Replaces the password of a URL's user info with `***`, keeping the rest as written
 * (`http://user:s3cret@host:3128` → `http://user:***@host:3128`). Works on the text, not on
 * a re-serialised `URL`, which would add a trailing slash and re-encode characters.
 * @example maskProxyPassword('socks5://u:p@10.0.0.1:1080') // 'socks5://u:***@10.0.0.1:1080'
 */
export function maskProxyPassword(url: string): string {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(url);
  if (match === null) return url;
  const [, scheme = '', authority = '', rest = ''] = match;
  const at = authority.lastIndexOf('@');
  const colon = authority.indexOf(':');
  if (at < 0 || colon < 0 || colon > at) return url;
  return `${scheme}${authority.slice(0, colon)}:***${authority.slice(at)}${rest}`;
}
