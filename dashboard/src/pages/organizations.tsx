/**
 * Organizations with their subscription and plan: create, rename, delete (after saying what
 * goes with it), activate or change plan, cancel.
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, type ApiKey, type DeletedOrganization, type Model, type Organization, type Subscription } from '../api';
import { Badge, ConfirmButton, Confirmation, Field, FormError, Id, LoadError, PageHeader, Section, Time, useAction, useLoad } from '../components';
import { href, navigate, type Location } from '../router';

interface Row {
  org: Organization;
  subscription: Subscription;
}

async function loadRows(): Promise<Row[]> {
  const orgs = await api<Organization[]>('GET', '/organizations');
  return Promise.all(orgs.map(async (org) => ({ org, subscription: await api<Subscription>('GET', `/organizations/${org.id}/subscription`) })));
}

export function OrganizationsPage(_: { location: Location }): JSX.Element {
  const { data: rows, error, reload } = useLoad(loadRows, []);
  return (
    <>
      <PageHeader title="Organizations" />
      <CreateOrganization onCreated={() => void reload()} />
      <Section title="All organizations">
        <LoadError error={error} retry={() => void reload()} />
        {rows === undefined ? (
          <p class="muted">Loading…</p>
        ) : rows.length === 0 ? (
          <p class="muted">No organization yet.</p>
        ) : (
          <table class="records">
            <thead>
              <tr>
                <th>Name</th>
                <th>Id</th>
                <th>Subscription</th>
                <th>Created</th>
                <th>Plan and subscription</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <OrganizationRow key={row.org.id} row={row} onChanged={() => void reload()} />
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}

function CreateOrganization({ onCreated }: { onCreated: () => void }): JSX.Element {
  const [name, setName] = useState('');
  const { busy, error, setError, run } = useAction();
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (name.trim() === '') return setError('Name: required');
    const org = await run(() => api<Organization>('POST', '/organizations', { name: name.trim() }));
    if (org) {
      setName('');
      onCreated();
    }
  };
  return (
    <Section title="New organization">
      <form class="inline-form" onSubmit={(e) => void submit(e)} aria-label="New organization" noValidate>
        <Field label="Name" name="name" value={name} onInput={setName} placeholder="Acme Agency" required />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create organization'}
        </button>
      </form>
      <FormError error={error} />
    </Section>
  );
}

function OrganizationRow({ row, onChanged }: { row: Row; onChanged: () => void }): JSX.Element {
  const { org, subscription } = row;
  const [plan, setPlan] = useState(subscription.plan ?? '');
  const { busy, error, run } = useAction();
  const set = async (status: 'active' | 'canceled'): Promise<void> => {
    const done = await run(() => api<Subscription>('PUT', `/organizations/${org.id}/subscription`, { status, plan: plan.trim() === '' ? null : plan.trim() }));
    if (done) onChanged();
  };
  const tone = subscription.status === 'active' ? 'good' : subscription.status === 'canceled' ? 'bad' : 'neutral';
  return (
    <tr data-org={org.id}>
      <td data-label="Name">
        <OrganizationName org={org} onChanged={onChanged} />
        <div class="row-links">
          <a href={`/dashboard${href('/keys', org.id)}`} onClick={(e) => (e.preventDefault(), navigate(href('/keys', org.id)))}>
            Keys
          </a>
          <a href={`/dashboard${href('/models', org.id)}`} onClick={(e) => (e.preventDefault(), navigate(href('/models', org.id)))}>
            Models
          </a>
          <a href={`/dashboard${href('/audit', org.id)}`} onClick={(e) => (e.preventDefault(), navigate(href('/audit', org.id)))}>
            Audit
          </a>
        </div>
      </td>
      <td data-label="Id">
        <Id id={org.id} />
      </td>
      <td data-label="Subscription">
        <Badge tone={tone}>{subscription.status === 'none' ? 'no subscription' : subscription.status}</Badge>
        {subscription.plan ? <span class="plan"> {subscription.plan}</span> : null}
      </td>
      <td data-label="Created">
        <Time iso={org.createdAt} />
      </td>
      <td data-label="Plan and subscription">
        <form class="row-form" onSubmit={(e) => (e.preventDefault(), void set('active'))} aria-label={`Subscription of ${org.name}`} noValidate>
          <input name="plan" value={plan} placeholder="plan (e.g. pro)" aria-label="Plan" onInput={(e) => setPlan((e.currentTarget as HTMLInputElement).value)} />
          <button type="submit" class="primary" disabled={busy}>
            {subscription.status === 'active' ? 'Change plan' : 'Activate'}
          </button>
          {subscription.status === 'active' ? (
            <ConfirmButton label="Cancel subscription" question="Its live relays close." disabled={busy} onConfirm={() => void set('canceled')} />
          ) : null}
        </form>
        <FormError error={error} />
      </td>
    </tr>
  );
}

/** The name, with Rename (in place) and Delete (which first says what goes with it). */
function OrganizationName({ org, onChanged }: { org: Organization; onChanged: () => void }): JSX.Element {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(org.name);
  const [doomed, setDoomed] = useState<{ keys: number; models: number; subscription: string } | undefined>();
  const { busy, error, setError, run } = useAction();

  const rename = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (name.trim() === '') return setError('Name: required');
    if (await run(() => api<Organization>('PATCH', `/organizations/${org.id}`, { name: name.trim() }))) {
      setEditing(false);
      onChanged();
    }
  };
  // Counted when asked, so the question names what the deletion takes with it.
  const askDelete = async (): Promise<void> => {
    const counted = await run(async () => {
      const [keys, models, subscription] = await Promise.all([
        api<ApiKey[]>('GET', `/organizations/${org.id}/keys`),
        api<Model[]>('GET', `/organizations/${org.id}/models`),
        api<Subscription>('GET', `/organizations/${org.id}/subscription`),
      ]);
      return { keys: keys.length, models: models.length, subscription: subscription.status };
    });
    if (counted) setDoomed(counted);
  };
  const remove = async (): Promise<void> => {
    if (await run(() => api<DeletedOrganization>('DELETE', `/organizations/${org.id}`))) onChanged();
    else setDoomed(undefined);
  };

  if (editing) {
    return (
      <form class="row-form" onSubmit={(e) => void rename(e)} aria-label={`Rename ${org.name}`} noValidate>
        <input name="name" value={name} aria-label="New name" onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
        <button type="submit" class="primary" disabled={busy}>
          Save
        </button>
        <button type="button" onClick={() => (setEditing(false), setName(org.name), setError(undefined))}>
          Cancel
        </button>
        <FormError error={error} />
      </form>
    );
  }
  const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
  return (
    <>
      <strong>{org.name}</strong> {org.sandbox ? <Badge tone="warn">sandbox</Badge> : null}
      {doomed ? (
        <Confirmation question={`Delete ${org.name}?`} label="Delete" disabled={busy} onConfirm={() => void remove()} onCancel={() => setDoomed(undefined)}>
          Delete {org.name} with {plural(doomed.keys, 'API key')}, {plural(doomed.models, 'model')}
          {doomed.subscription === 'none' ? '' : ' and its subscription'}? Its live relays close (4401). The audit trail keeps its name.
        </Confirmation>
      ) : (
        <div class="actions">
          <button type="button" disabled={busy} onClick={() => (setName(org.name), setEditing(true))}>
            Rename
          </button>
          <button type="button" class="danger" disabled={busy} onClick={() => void askDelete()}>
            Delete
          </button>
        </div>
      )}
      <FormError error={error} />
    </>
  );
}
