/**
 * An organization's API keys: create (the key is shown once, with a copy button), rotate
 * with a grace period for the old key (the new key shown once), revoke; prefix, created,
 * last used, expiry, revocation and rotation.
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, type ApiKey, type CreatedKey, type RotatedApiKey } from '../api';
import { Badge, ConfirmButton, Confirmation, CopyButton, Field, FormError, LoadError, PageHeader, Section, Time, useAction, useLoad } from '../components';
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

/** How long the old key keeps working after a rotation. */
const GRACE_CHOICES: { seconds: number; label: string }[] = [
  { seconds: 0, label: 'stops now' },
  { seconds: 3600, label: 'works 1 more hour' },
  { seconds: 86_400, label: 'works 24 more hours' },
  { seconds: 7 * 86_400, label: 'works 7 more days' },
];

function KeyStatus({ apiKey }: { apiKey: ApiKey }): JSX.Element {
  const expired = apiKey.expiresAt !== null && new Date(apiKey.expiresAt).getTime() <= Date.now();
  if (apiKey.revokedAt) return <Badge tone="bad">{apiKey.replacedBy ? 'rotated' : 'revoked'}</Badge>;
  if (apiKey.replacedBy) return <Badge tone={expired ? 'bad' : 'warn'}>{expired ? 'rotated' : 'rotated, in grace'}</Badge>;
  return expired ? <Badge tone="warn">expired</Badge> : <Badge tone="good">active</Badge>;
}

/** Rotate: first the grace choice, then the call; the new key is shown once by the page. */
function RotateKey({ apiKey, busy, run, onRotated }: { apiKey: ApiKey; busy: boolean; run: ReturnType<typeof useAction>['run']; onRotated: (key: CreatedKey) => void }): JSX.Element {
  const [asking, setAsking] = useState(false);
  const [grace, setGrace] = useState(0);
  if (!asking) {
    return (
      <button type="button" disabled={busy} onClick={() => setAsking(true)}>
        Rotate
      </button>
    );
  }
  const rotate = async (): Promise<void> => {
    setAsking(false);
    const key = await run(() => api<RotatedApiKey>('POST', `/keys/${apiKey.id}/rotate`, { graceSeconds: grace }));
    if (key) onRotated(key);
  };
  return (
    <Confirmation question="Rotate this key" label="Rotate" danger={false} disabled={busy} onConfirm={() => void rotate()} onCancel={() => setAsking(false)}>
      A new key replaces this one, which{' '}
      <select name="grace" aria-label="The old key" value={String(grace)} onChange={(e) => setGrace(Number((e.currentTarget as HTMLSelectElement).value))}>
        {GRACE_CHOICES.map((c) => (
          <option key={c.seconds} value={String(c.seconds)}>
            {c.label}
          </option>
        ))}
      </select>
    </Confirmation>
  );
}

function KeyRow({ apiKey, onRotated, onRevoked }: { apiKey: ApiKey; onRotated: (key: CreatedKey) => void; onRevoked: () => void }): JSX.Element {
  const { busy, error, run } = useAction();
  const expired = apiKey.expiresAt !== null && new Date(apiKey.expiresAt).getTime() <= Date.now();
  return (
    <tr data-key={apiKey.id}>
      <td data-label="Name">{apiKey.name ?? <span class="muted">(no name)</span>}</td>
      <td data-label="Prefix">
        <code>{apiKey.prefix}…</code>
      </td>
      <td data-label="Status">
        <KeyStatus apiKey={apiKey} />
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
        {apiKey.revokedAt || expired ? null : (
          <div class="actions">
            {apiKey.replacedBy ? null : <RotateKey apiKey={apiKey} busy={busy} run={run} onRotated={onRotated} />}
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
