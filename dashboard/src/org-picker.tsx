/** The organization a page works on: a select kept in `?org=`, the first one by default. */
import type { JSX } from 'preact';
import { useEffect } from 'preact/hooks';
import { api, type Organization } from './api';
import { LoadError, useLoad } from './components';
import { navigate, type Location } from './router';

/** The organizations and the chosen one (from `?org=`, else the first). */
export function useOrganization(location: Location): {
  orgs: Organization[] | undefined;
  org: Organization | undefined;
  error: string | undefined;
  reload: () => Promise<void>;
} {
  const { data: orgs, error, reload } = useLoad(() => api<Organization[]>('GET', '/organizations'), []);
  const wanted = location.query.get('org');
  const org = orgs?.find((o) => o.id === wanted) ?? orgs?.[0];
  useEffect(() => {
    // Put the default in the URL, so a reload or a shared link shows the same organization.
    if (org && wanted !== org.id) navigate(`${location.page}?org=${org.id}`, true);
  }, [org?.id, wanted, location.page]);
  return { orgs, org, error, reload };
}

export function OrgPicker({ location, orgs, org, error, reload }: { location: Location } & ReturnType<typeof useOrganization>): JSX.Element {
  if (error) return <LoadError error={error} retry={() => void reload()} />;
  if (!orgs) return <p class="muted">Loading organizations…</p>;
  if (orgs.length === 0) return <p class="notice">No organization yet: create one on the Organizations page first.</p>;
  return (
    <label class="field org-picker">
      <span class="field-label">Organization</span>
      <select name="org" value={org?.id} onChange={(e) => navigate(`${location.page}?org=${(e.currentTarget as HTMLSelectElement).value}`)}>
        {orgs.map((o) => (
          <option value={o.id} key={o.id}>
            {o.name}
            {o.sandbox ? ' (sandbox)' : ''}
          </option>
        ))}
      </select>
    </label>
  );
}
