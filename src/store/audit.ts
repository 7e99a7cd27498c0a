/**
 * The operator trail's rows: written inside the transaction of the change they describe (so
 * neither exists without the other), and read back newest first with the listing's filters.
 */
import type { Kysely } from 'kysely';
import { toAuditEntry } from './records.js';
import type { Trx } from './model-writes.js';
import type { Database } from './schema.js';
import type { Actor, AuditAction, AuditDetails, AuditEntry, AuditTargetKind } from './types.js';
import { parseId, type auditQuery } from './validation.js';
import type { z } from 'zod';

/** What a mutation says about itself; the actor and the time are added by {@link appendAudit}. */
export interface AuditRecord {
  action: AuditAction;
  org: { id: string; name: string | null } | null;
  target: { kind: AuditTargetKind; id: string; name: string | null };
  details?: AuditDetails;
}

/** Appends the trail's row for `record`, inside the mutation's own transaction. */
export async function appendAudit(trx: Trx, actor: Actor, record: AuditRecord, at: string): Promise<void> {
  await trx
    .insertInto('audit_events')
    .values({
      at,
      actor_kind: actor.kind,
      actor_detail: actor.detail,
      action: record.action,
      org_id: record.org?.id ?? null,
      org_name: record.org?.name ?? null,
      target_kind: record.target.kind,
      target_id: record.target.id,
      target_name: record.target.name,
      details: record.details === undefined ? null : JSON.stringify(record.details),
    })
    .execute();
}

/**
 * How the trail names a key: its name and prefix, or the prefix alone.
 * @example keyLabel({ name: 'crm', prefix: 'ofgw_sk_4fQz' }) // 'crm (ofgw_sk_4fQz…)'
 */
export function keyLabel(key: { name: string | null; prefix: string }): string {
  return key.name === null ? `${key.prefix}…` : `${key.name} (${key.prefix}…)`;
}

/** One page of the trail, newest first, for an already validated query. */
export async function listAudit(db: Kysely<Database>, query: z.output<typeof auditQuery>): Promise<AuditEntry[]> {
  let select = db.selectFrom('audit_events').selectAll();
  // Ids are stored in canonical form; a malformed one matches nothing.
  for (const [column, value] of [['org_id', query.orgId], ['target_id', query.targetId]] as const) {
    if (value === undefined) continue;
    const id = parseId(value) ?? value.toLowerCase();
    select = select.where(column, '=', id);
  }
  if (query.action !== undefined) {
    const action = query.action;
    select = action.includes('.') ? select.where('action', '=', action as AuditAction) : select.where('target_kind', '=', action as AuditTargetKind);
  }
  if (query.actorKind !== undefined) select = select.where('actor_kind', '=', query.actorKind);
  if (query.since !== undefined) select = select.where('at', '>=', query.since);
  if (query.until !== undefined) select = select.where('at', '<', query.until);
  if (query.before !== undefined) select = select.where('seq', '<', query.before);
  const rows = await select.orderBy('seq', 'desc').limit(query.limit).execute();
  return rows.map(toAuditEntry);
}
