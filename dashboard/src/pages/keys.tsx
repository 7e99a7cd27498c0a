/**
 * An organization's API keys: create (the key is shown once, with a copy button), rotate
 * (the new key shown once), revoke; prefix, created, last used, expiry and revocation.
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, type ApiKey, type CreatedKey } from '../api';
import { Badge, ConfirmButton, CopyButton, Field, FormError, LoadError, PageHeader, Section, Time, useAction, useLoad } from '../components';
import { holdKey } from '../memory';
import { OrgPicker, useOrganization } from '../org-picker';
import { href, navigate, type Location } from '../router';

export function KeysPage({ location }: { location: Location }): JSX.Element {
  const orgState = useOrganization(location);
  const { org } = orgState;
  const [shown, setShown] = useState<CreatedKey | undefined>();
  const keys = useLoad(() => (org ? api<ApiKey[]>('GET', `/organizations/${org.id}/keys`) : Promise.resolve(undefined)), [org?.id]);

  const created = (key: CreatedKey): void => {
    holdKey({ id: key.id, orgId: key.orgId, name: key.name, prefix: key.prefix, key: key.key });
    setShown(key);
    void keys.reload();
  };

  return (
    <>
      <PageHeader title="API keys">
        <OrgPicker location={location} {...orgState} />
      </PageHeader>
      {shown && shown.orgId === org?.id ? <ShownKey created={shown} onDone={() => setShown(undefined)} /> : null}
      {org ? <CreateKey orgId={org.id} onCreated={created} /> : null}
      {org ? (
        <Section title={`Keys of ${org.name}`}>
          <LoadError error={keys.error} retry={() => void keys.reload()} />
          {keys.data === undefined ? (
            <p class="muted">Loading…</p>
          ) : keys.data.length === 0 ? (
            <p class="muted">No key yet.</p>
          ) : (
            <table class="records">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Prefix</th>
                  <th>Status</th>
                  <th>Created</th>
                  <th>Last used</th>
                  <th>Expires</th>
                  <th>Actions</th>
                </tr>
              </thead>
              <tbody>
                {keys.data.map((key) => (
                  <KeyRow key={key.id} apiKey={key} onRotated={created} onRevoked={() => void keys.reload()} />
                ))}
              </tbody>
            </table>
          )}
        </Section>
      ) : null}
    </>
  );
}

/** The key in clear, this once. */
function ShownKey({ created, onDone }: { created: CreatedKey; onDone: () => void }): JSX.Element {
  return (
    <section class="card shown-key" aria-label="New API key" role="status">
      <h2>New API key{created.name ? `: ${created.name}` : ''}</h2>
      <p class="warning">
        <strong>Copy it now: you won't see it again.</strong> Only a digest is stored; lost keys are replaced, not recovered.
      </p>
      <div class="key-line">
        <input class="key-value" readOnly value={created.key} aria-label="The new API key" onFocus={(e) => (e.currentTarget as HTMLInputElement).select()} />
        <CopyButton text={created.key} />
      </div>
      <p class="muted">
        This tab keeps it in memory (never in storage) until you reload, so the{' '}
        <a href={`/dashboard${href('/playground', created.orgId)}`} onClick={(e) => (e.preventDefault(), navigate(href('/playground', created.orgId)))}>
          playground
        </a>{' '}
        can use it.
      </p>
      <button type="button" onClick={onDone}>
        I have copied it
      </button>
    </section>
  );
}

function CreateKey({ orgId, onCreated }: { orgId: string; onCreated: (key: CreatedKey) => void }): JSX.Element {
  const [name, setName] = useState('');
  const [expires, setExpires] = useState('');
  const { busy, error, setError, run } = useAction();
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    let expiresAt: string | null = null;
    if (expires !== '') {
      const date = new Date(expires);
      if (Number.isNaN(date.getTime())) return setError('Expires: not a valid date and time');
      if (date.getTime() <= Date.now()) return setError('Expires: must be in the future');
      expiresAt = date.toISOString();
    }
    const key = await run(() => api<CreatedKey>('POST', `/organizations/${orgId}/keys`, { name: name.trim() === '' ? null : name.trim(), expiresAt }));
    if (key) {
      setName('');
      setExpires('');
      onCreated(key);
    }
  };
  return (
    <Section title="New key">
      <form class="inline-form" onSubmit={(e) => void submit(e)} aria-label="New key" noValidate>
        <Field label="Name" name="name" value={name} onInput={setName} placeholder="crm" />
        <Field label="Expires (optional)" name="expiresAt" type="datetime-local" value={expires} onInput={setExpires} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create key'}
        </button>
      </form>
      <FormError error={error} />
    </Section>
  );
}

function KeyRow({ apiKey, onRotated, onRevoked }: { apiKey: ApiKey; onRotated: (key: CreatedKey) => void; onRevoked: () => void }): JSX.Element {
  const { busy, error, run } = useAction();
  const expired = apiKey.expiresAt !== null && new Date(apiKey.expiresAt).getTime() <= Date.now();
  const status = apiKey.revokedAt ? <Badge tone="bad">revoked</Badge> : expired ? <Badge tone="warn">expired</Badge> : <Badge tone="good">active</Badge>;
  return (
    <tr data-key={apiKey.id}>
      <td data-label="Name">{apiKey.name ?? <span class="muted">(no name)</span>}</td>
      <td data-label="Prefix">
        <code>{apiKey.prefix}…</code>
      </td>
      <td data-label="Status">
        {status}
        {apiKey.revokedAt ? (
          <span class="muted small">
            {' '}
            <Time iso={apiKey.revokedAt} />
          </span>
        ) : null}
      </td>
      <td data-label="Created">
        <Time iso={apiKey.createdAt} />
      </td>
      <td data-label="Last used">
        <Time iso={apiKey.lastUsedAt} empty="never" />
      </td>
      <td data-label="Expires">
        <Time iso={apiKey.expiresAt} empty="never" />
      </td>
      <td data-label="Actions">
        {apiKey.revokedAt ? null : (
          <div class="actions">
            <ConfirmButton
              label="Rotate"
              question="A new key replaces this one, which stops working."
              danger={false}
              disabled={busy}
              onConfirm={() => void run(() => api<CreatedKey>('POST', `/keys/${apiKey.id}/rotate`, {})).then((key) => key && onRotated(key))}
            />
            <ConfirmButton
              label="Revoke"
              question="Its live relays close with 4401."
              disabled={busy}
              onConfirm={() => void run(() => api<ApiKey>('POST', `/keys/${apiKey.id}/revoke`, {})).then((key) => key && onRevoked())}
            />
          </div>
        )}
        <FormError error={error} />
      </td>
    </tr>
  );
}
