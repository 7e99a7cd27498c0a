/** The audit trail across models (GET /events), newest first, a page at a time. */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, type Model, type ModelEvent, type Organization } from '../api';
import { Id, LoadError, PageHeader, Section, Time, useLoad } from '../components';
import { navigate, type Location } from '../router';
import { EventKind } from './models';

const PAGE = 50;

export function AuditPage({ location }: { location: Location }): JSX.Element {
  const orgId = location.query.get('org') ?? '';
  // `before` of each page shown so far: the first page has none.
  const [pages, setPages] = useState<(number | undefined)[]>([undefined]);
  const before = pages[pages.length - 1];
  const names = useLoad(async () => {
    const [orgs, models] = await Promise.all([api<Organization[]>('GET', '/organizations'), api<Model[]>('GET', '/models')]);
    return { orgs, models: new Map(models.map((m) => [m.id, m.name ?? m.id.slice(0, 8)])) };
  }, []);
  const events = useLoad(() => {
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (orgId) query.set('orgId', orgId);
    if (before !== undefined) query.set('before', String(before));
    return api<ModelEvent[]>('GET', `/events?${query.toString()}`);
  }, [orgId, before]);
  const orgName = (id: string): string | undefined => names.data?.orgs.find((o) => o.id === id)?.name;
  const last = events.data?.[events.data.length - 1];

  return (
    <>
      <PageHeader title="Audit trail">
        <label class="field org-picker">
          <span class="field-label">Organization</span>
          <select
            name="org"
            value={orgId}
            onChange={(e) => {
              setPages([undefined]);
              const value = (e.currentTarget as HTMLSelectElement).value;
              navigate(value ? `/audit?org=${value}` : '/audit');
            }}
          >
            <option value="">All organizations</option>
            {names.data?.orgs.map((o) => (
              <option key={o.id} value={o.id}>
                {o.name}
              </option>
            ))}
          </select>
        </label>
      </PageHeader>
      <Section title="Model lifecycle events, newest first">
        <LoadError error={events.error ?? names.error} retry={() => void events.reload()} />
        {!events.data ? (
          <p class="muted">Loading…</p>
        ) : events.data.length === 0 ? (
          <p class="muted">No events{pages.length > 1 ? ' older than these' : ''}.</p>
        ) : (
          <table class="records">
            <thead>
              <tr>
                <th>#</th>
                <th>When</th>
                <th>Organization</th>
                <th>Model</th>
                <th>Event</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>
              {events.data.map((e) => (
                <tr key={e.seq} data-seq={e.seq}>
                  <td data-label="#" class="num">
                    {e.seq}
                  </td>
                  <td data-label="When">
                    <Time iso={e.at} />
                  </td>
                  <td data-label="Organization">{orgName(e.orgId) ?? <Id id={e.orgId} />}</td>
                  <td data-label="Model">{names.data?.models.get(e.modelId) ?? <Id id={e.modelId} />}</td>
                  <td data-label="Event">
                    <EventKind kind={e.kind} />
                  </td>
                  <td data-label="Reason">{e.reason ?? <span class="muted">—</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <div class="pager">
          <button type="button" disabled={pages.length === 1} onClick={() => setPages([undefined])}>
            Newest
          </button>
          <button type="button" disabled={pages.length === 1} onClick={() => setPages(pages.slice(0, -1))}>
            Newer
          </button>
          <button type="button" disabled={!last || (events.data?.length ?? 0) < PAGE} onClick={() => last && setPages([...pages, last.seq])}>
            Older
          </button>
        </div>
      </Section>
    </>
  );
}
