/**
 * The audit trail: the operator trail (GET /events: who changed what, from the CLI, the API or
 * this dashboard), filtered by organization, action and actor; and every model's lifecycle
 * events (GET /model-events). Both newest first, a page at a time.
 */
import type { ComponentChildren, JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, type AuditEntry, type Model, type ModelEvent, type Organization } from '../api';
import { Badge, Id, LoadError, PageHeader, Section, Time, useLoad } from '../components';
import { navigate, type Location } from '../router';
import { EventKind } from './models';

const PAGE = 50;

/** The action filter's choices: every action of a kind, or one action. */
const ACTION_CHOICES: { value: string; label: string }[] = [
  { value: 'organization', label: 'Organizations (all)' },
  { value: 'organization.created', label: '— created' },
  { value: 'organization.renamed', label: '— renamed' },
  { value: 'organization.deleted', label: '— deleted' },
  { value: 'subscription.changed', label: 'Subscription changed' },
  { value: 'key', label: 'API keys (all)' },
  { value: 'key.created', label: '— created' },
  { value: 'key.rotated', label: '— rotated' },
  { value: 'key.revoked', label: '— revoked' },
  { value: 'model', label: 'Models (all)' },
  { value: 'model.created', label: '— created' },
  { value: 'model.updated', label: '— updated' },
  { value: 'model.connected', label: '— connected' },
  { value: 'model.disconnected', label: '— disconnected' },
  { value: 'model.removed', label: '— removed' },
  { value: 'relay.closed', label: 'Relay closed' },
];

const ACTORS: { value: string; label: string }[] = [
  { value: 'cli', label: 'CLI (local)' },
  { value: 'cli-remote', label: 'CLI (remote)' },
  { value: 'api', label: 'API' },
  { value: 'dashboard', label: 'Dashboard' },
];

const actorLabel = (kind: string): string => ACTORS.find((a) => a.value === kind)?.label ?? kind;

/** The page's filters live in the URL, so a reload or a shared link shows the same trail. */
function withQuery(location: Location, changes: Record<string, string>): string {
  const query = new URLSearchParams(location.query);
  for (const [name, value] of Object.entries(changes)) {
    if (value === '') query.delete(name);
    else query.set(name, value);
  }
  const text = query.toString();
  return text === '' ? '/audit' : `/audit?${text}`;
}

/** `before` of each page shown so far (the first page has none), reset when the filters change. */
function usePages(filters: string): { before: number | undefined; depth: number; newest(): void; newer(): void; older(seq: number): void } {
  const [state, setState] = useState<{ filters: string; pages: (number | undefined)[] }>({ filters, pages: [undefined] });
  const pages = state.filters === filters ? state.pages : [undefined];
  return {
    before: pages[pages.length - 1],
    depth: pages.length,
    newest: () => setState({ filters, pages: [undefined] }),
    newer: () => setState({ filters, pages: pages.slice(0, -1) }),
    older: (seq) => setState({ filters, pages: [...pages, seq] }),
  };
}

export function AuditPage({ location }: { location: Location }): JSX.Element {
  const view = location.query.get('view') === 'models' ? 'models' : 'operators';
  const orgId = location.query.get('org') ?? '';
  const orgs = useLoad(() => api<Organization[]>('GET', '/organizations'), []);
  const select = (name: string, label: string, value: string, choices: { value: string; label: string }[], all: string): JSX.Element => (
    <label class="field org-picker">
      <span class="field-label">{label}</span>
      <select name={name} value={value} onChange={(e) => navigate(withQuery(location, { [name]: (e.currentTarget as HTMLSelectElement).value }))}>
        <option value="">{all}</option>
        {choices.map((c) => (
          <option key={c.value} value={c.value}>
            {c.label}
          </option>
        ))}
      </select>
    </label>
  );
  const orgChoices = (orgs.data ?? []).map((o) => ({ value: o.id, label: o.name }));
  return (
    <>
      <PageHeader title="Audit trail">
        {select('org', 'Organization', orgId, orgChoices, 'All organizations')}
        {view === 'operators' ? select('action', 'Action', location.query.get('action') ?? '', ACTION_CHOICES, 'All actions') : null}
        {view === 'operators' ? select('actor', 'Actor', location.query.get('actor') ?? '', ACTORS, 'Anyone') : null}
      </PageHeader>
      <nav class="tabs" aria-label="Trails">
        {(
          [
            ['operators', 'Operator actions'],
            ['models', 'Model lifecycle'],
          ] as const
        ).map(([value, title]) => {
          // The organization carries over; the operator trail's own filters do not.
          const to = withQuery(location, { view: value === 'models' ? 'models' : '', action: '', actor: '' });
          return (
            <a key={value} href={`/dashboard${to}`} aria-current={view === value ? 'page' : undefined} onClick={(e) => (e.preventDefault(), navigate(to))}>
              {title}
            </a>
          );
        })}
      </nav>
      <LoadError error={orgs.error} retry={() => void orgs.reload()} />
      {view === 'operators' ? <OperatorTrail location={location} /> : <ModelLifecycle orgId={orgId} orgs={orgs.data} />}
    </>
  );
}

function OperatorTrail({ location }: { location: Location }): JSX.Element {
  const filters = { orgId: location.query.get('org') ?? '', action: location.query.get('action') ?? '', actor: location.query.get('actor') ?? '' };
  const pages = usePages(JSON.stringify(filters));
  const entries = useLoad(() => {
    const query = new URLSearchParams({ limit: String(PAGE) });
    for (const [name, value] of Object.entries(filters)) if (value !== '') query.set(name, value);
    if (pages.before !== undefined) query.set('before', String(pages.before));
    return api<AuditEntry[]>('GET', `/events?${query.toString()}`);
  }, [filters.orgId, filters.action, filters.actor, pages.before]);
  return (
    <TrailSection
      title="Operator actions, newest first"
      load={entries}
      pages={pages}
      empty={`No operator action${pages.depth > 1 ? ' older than these' : ' matches these filters'}.`}
      columns={['Who', 'Action', 'Organization', 'Target', 'Details']}
      attributes={(e) => ({ 'data-audit': e.seq, 'data-action': e.action })}
      cells={(e) => (
        <>
          <td data-label="Who">
            {actorLabel(e.actorKind)}
            {e.actorDetail ? <div class="muted small">{e.actorDetail}</div> : null}
          </td>
          <td data-label="Action">
            <ActionBadge action={e.action} />
          </td>
          <td data-label="Organization">{e.orgName ?? (e.orgId ? <Id id={e.orgId} /> : <span class="muted">—</span>)}</td>
          <td data-label="Target">{e.targetName ?? <Id id={e.targetId} />}</td>
          <td data-label="Details">
            <Details details={e.details} />
          </td>
        </>
      )}
    />
  );
}

/**
 * A trail's card: its load error, the table (or loading / empty), and the pager. Every row
 * starts with the entry's `seq` and time; `cells` gives the rest, under `columns`.
 */
function TrailSection<T extends { seq: number; at: string }>({
  title,
  load,
  pages,
  empty,
  columns,
  attributes,
  cells,
}: {
  title: string;
  load: { data: T[] | undefined; error: string | undefined; reload: () => Promise<void> };
  pages: ReturnType<typeof usePages>;
  empty: string;
  columns: string[];
  attributes: (entry: T) => Record<string, string | number>;
  cells: (entry: T) => JSX.Element;
}): JSX.Element {
  const last = load.data?.[load.data.length - 1];
  return (
    <Section title={title}>
      <LoadError error={load.error} retry={() => void load.reload()} />
      {!load.data ? (
        <p class="muted">Loading…</p>
      ) : load.data.length === 0 ? (
        <p class="muted">{empty}</p>
      ) : (
        <table class="records">
          <thead>
            <tr>
              {['#', 'When', ...columns].map((c) => (
                <th key={c}>{c}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {load.data.map((entry) => (
              <tr key={entry.seq} {...attributes(entry)}>
                <td data-label="#" class="num">
                  {entry.seq}
                </td>
                <td data-label="When">
                  <Time iso={entry.at} />
                </td>
                {cells(entry)}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="pager">
        <button type="button" disabled={pages.depth === 1} onClick={pages.newest}>
          Newest
        </button>
        <button type="button" disabled={pages.depth === 1} onClick={pages.newer}>
          Newer
        </button>
        <button type="button" disabled={!last || (load.data?.length ?? 0) < PAGE} onClick={() => last && pages.older(last.seq)}>
          Older
        </button>
      </div>
    </Section>
  );
}

function ActionBadge({ action }: { action: string }): JSX.Element {
  const what = action.slice(action.indexOf('.') + 1);
  const tone = what === 'deleted' || what === 'removed' || what === 'revoked' || action === 'relay.closed' ? 'bad' : what === 'created' || what === 'connected' ? 'good' : what === 'rotated' || what === 'disconnected' ? 'warn' : 'neutral';
  return <Badge tone={tone}>{action}</Badge>;
}

/** The entry's details as short `name: value` pairs (names, counts, ids; never a secret). */
function Details({ details }: { details: AuditEntry['details'] }): JSX.Element {
  const entries = Object.entries(details ?? {}).filter(([, value]) => value !== null);
  if (entries.length === 0) return <span class="muted">—</span>;
  const shown = (value: unknown): ComponentChildren => {
    if (Array.isArray(value)) return value.join(', ');
    if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value)) return <Time iso={value} />;
    if (typeof value === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-/.test(value)) return <Id id={value} />;
    return String(value);
  };
  return (
    <ul class="details">
      {entries.map(([name, value]) => (
        <li key={name}>
          <span class="muted">{name}:</span> {shown(value)}
        </li>
      ))}
    </ul>
  );
}

function ModelLifecycle({ orgId, orgs }: { orgId: string; orgs: Organization[] | undefined }): JSX.Element {
  const pages = usePages(orgId);
  const models = useLoad(async () => new Map((await api<Model[]>('GET', '/models')).map((m) => [m.id, m.name ?? m.id.slice(0, 8)])), []);
  const events = useLoad(() => {
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (orgId) query.set('orgId', orgId);
    if (pages.before !== undefined) query.set('before', String(pages.before));
    return api<ModelEvent[]>('GET', `/model-events?${query.toString()}`);
  }, [orgId, pages.before]);
  const orgName = (id: string): string | undefined => orgs?.find((o) => o.id === id)?.name;
  return (
    <TrailSection
      title="Model lifecycle events, newest first"
      load={{ ...events, error: events.error ?? models.error }}
      pages={pages}
      empty={`No events${pages.depth > 1 ? ' older than these' : ''}.`}
      columns={['Organization', 'Model', 'Event', 'Reason']}
      attributes={(e) => ({ 'data-seq': e.seq })}
      cells={(e) => (
        <>
          <td data-label="Organization">{orgName(e.orgId) ?? <Id id={e.orgId} />}</td>
          <td data-label="Model">{models.data?.get(e.modelId) ?? <Id id={e.modelId} />}</td>
          <td data-label="Event">
            <EventKind kind={e.kind} />
          </td>
          <td data-label="Reason">{e.reason ?? <span class="muted">—</span>}</td>
        </>
      )}
    />
  );
}
