/**
 * An organization's models: add one with its OnlyFans socket credentials, import or update
 * credentials (fields, or a pasted JSON), connect, disconnect, remove, switch between relay
 * and session delivery; status, last error and the lifecycle events. Secrets go in password inputs and never come back from the API.
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, type DeliveryMode, type Model, type ModelEvent } from '../api';
import { Badge, ConfirmButton, Field, FormError, Id, LoadError, PageHeader, Section, Time, useAction, useLoad } from '../components';
import { OrgPicker, useOrganization } from '../org-picker';
import { href, navigate, type Location } from '../router';

interface Credentials {
  wsUrl: string;
  wsToken: string;
  userAgent: string;
  cookie: string;
  proxyUrl: string;
}

const EMPTY: Credentials = { wsUrl: '', wsToken: '', userAgent: '', cookie: '', proxyUrl: '' };
const FIELDS = Object.keys(EMPTY) as (keyof Credentials)[];

export function ModelsPage({ location }: { location: Location }): JSX.Element {
  const orgState = useOrganization(location);
  const { org } = orgState;
  const models = useLoad(() => (org ? api<Model[]>('GET', `/organizations/${org.id}/models`) : Promise.resolve(undefined)), [org?.id]);
  return (
    <>
      <PageHeader title="Models">
        <OrgPicker location={location} {...orgState} />
      </PageHeader>
      {org ? <AddModel orgId={org.id} onAdded={() => void models.reload()} /> : null}
      {org ? (
        <Section title={`Models of ${org.name}`}>
          <LoadError error={models.error} retry={() => void models.reload()} />
          {models.data === undefined ? (
            <p class="muted">Loading…</p>
          ) : models.data.length === 0 ? (
            <p class="muted">No model yet.</p>
          ) : (
            <div class="model-list">
              {models.data.map((model) => (
                <ModelCard key={model.id} model={model} onChanged={() => void models.reload()} />
              ))}
            </div>
          )}
        </Section>
      ) : null}
    </>
  );
}

/** Client-side checks, naming the field; the server checks again. */
function problems(c: Credentials, requireSocket: boolean): string | undefined {
  const url = c.wsUrl.trim();
  if (requireSocket && url === '') return 'WebSocket URL: required (e.g. wss://ws2.onlyfans.com/ws3/24)';
  if (url !== '' && !/^wss?:\/\/\S+$/i.test(url)) return 'WebSocket URL: must start with ws:// or wss://';
  if (requireSocket && c.wsToken.trim() === '') return 'WebSocket token: required';
  const proxy = c.proxyUrl.trim();
  if (proxy !== '' && !/^(https?|socks5h?):\/\/\S+$/i.test(proxy)) return 'Proxy URL: must be http://, https://, socks5:// or socks5h://';
  return undefined;
}

/** The fields that were filled in, trimmed; empty ones are left out (kept as they are). */
function filled(c: Credentials): Partial<Credentials> {
  const out: Partial<Credentials> = {};
  for (const field of FIELDS) if (c[field].trim() !== '') out[field] = c[field].trim();
  return out;
}

function CredentialFields({ value, onChange, keepHint }: { value: Credentials; onChange: (c: Credentials) => void; keepHint?: boolean }): JSX.Element {
  const set = (field: keyof Credentials) => (v: string) => onChange({ ...value, [field]: v });
  const keep = keepHint ? 'empty: keep the stored one' : undefined;
  return (
    <div class="grid-fields">
      <Field label="WebSocket URL" name="wsUrl" type="url" value={value.wsUrl} onInput={set('wsUrl')} placeholder="wss://ws2.onlyfans.com/ws3/24" required={!keepHint} hint={keep} />
      <Field label="WebSocket token" name="wsToken" type="password" value={value.wsToken} onInput={set('wsToken')} required={!keepHint} hint={keep} />
      <Field label="User-Agent" name="userAgent" value={value.userAgent} onInput={set('userAgent')} placeholder="Mozilla/5.0 …" hint={keep} />
      <Field label="Cookie" name="cookie" type="password" value={value.cookie} onInput={set('cookie')} hint={keep} />
      <Field label="Proxy URL" name="proxyUrl" type="password" value={value.proxyUrl} onInput={set('proxyUrl')} placeholder="socks5h://user:pass@host:1080" hint={keep} />
    </div>
  );
}

/** Fills the fields from a pasted `{wsUrl, wsToken, userAgent, cookie, proxyUrl}`. */
function JsonImport({ onImport }: { onImport: (c: Partial<Credentials>) => void }): JSX.Element {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | undefined>();
  const load = (): void => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return setError(`Credentials JSON: not valid JSON (${(err as Error).message})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return setError('Credentials JSON: must be an object such as {"wsUrl": "…", "wsToken": "…"}');
    const out: Partial<Credentials> = {};
    for (const [k, v] of Object.entries(parsed)) {
      if (!FIELDS.includes(k as keyof Credentials)) return setError(`Credentials JSON: unknown field "${k}" (known: ${FIELDS.join(', ')})`);
      if (typeof v !== 'string') return setError(`Credentials JSON: ${k} must be a string`);
      out[k as keyof Credentials] = v;
    }
    setError(undefined);
    setText('');
    onImport(out);
  };
  return (
    <details class="json-import">
      <summary>Import from JSON</summary>
      <label class="field">
        <span class="field-label">Credentials JSON</span>
        <textarea name="credentialsJson" rows={4} value={text} spellcheck={false} placeholder='{"wsUrl": "wss://…", "wsToken": "…", "userAgent": "…", "cookie": "…"}' onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)} />
      </label>
      <button type="button" onClick={load}>
        Fill the fields
      </button>
      <FormError error={error} />
    </details>
  );
}

function AddModel({ orgId, onAdded }: { orgId: string; onAdded: () => void }): JSX.Element {
  const [name, setName] = useState('');
  const [creds, setCreds] = useState<Credentials>(EMPTY);
  const { busy, error, setError, run } = useAction();
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const problem = problems(creds, true);
    if (problem) return setError(problem);
    const model = await run(() => api<Model>('POST', `/organizations/${orgId}/models`, { ...filled(creds), name: name.trim() === '' ? null : name.trim() }));
    if (model) {
      setName('');
      setCreds(EMPTY);
      onAdded();
    }
  };
  return (
    <Section title="Add a model">
      <form onSubmit={(e) => void submit(e)} aria-label="Add a model" noValidate>
        <Field label="Name" name="name" value={name} onInput={setName} placeholder="Model A" />
        <CredentialFields value={creds} onChange={setCreds} />
        <JsonImport onImport={(c) => setCreds({ ...creds, ...c })} />
        <FormError error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Adding…' : 'Add model'}
        </button>
      </form>
    </Section>
  );
}

function ModelCard({ model, onChanged }: { model: Model; onChanged: () => void }): JSX.Element {
  const { busy, error, run } = useAction();
  const [open, setOpen] = useState<'none' | 'credentials' | 'events'>('none');
  const act = async (work: () => Promise<unknown>): Promise<void> => {
    if ((await run(async () => (await work(), true))) === true) onChanged();
  };
  return (
    <article class="model card-inner" data-model={model.id} aria-label={`Model ${model.name ?? model.id}`}>
      <header class="model-head">
        <h3>
          {model.name ?? <span class="muted">(no name)</span>} <Id id={model.id} />
        </h3>
        <Badge tone={model.status === 'connected' ? 'good' : 'neutral'}>{model.status}</Badge>
        {model.lastError ? <Badge tone="bad">token rejected</Badge> : null}
      </header>
      <dl class="facts">
        <dt>Delivery</dt>
        <dd>
          <DeliveryToggle model={model} disabled={busy} onSwitch={(delivery) => void act(() => api<Model>('PATCH', `/models/${model.id}`, { delivery }))} />
        </dd>
        <dt>WebSocket URL</dt>
        <dd>{model.wsUrl ?? <span class="muted">none</span>}</dd>
        <dt>Token</dt>
        <dd>{model.hasWsToken ? 'stored' : <span class="muted">none</span>}</dd>
        <dt>User-Agent</dt>
        <dd>{model.userAgent ?? <span class="muted">none</span>}</dd>
        <dt>Cookie</dt>
        <dd>{model.hasCookie ? 'stored' : <span class="muted">none</span>}</dd>
        <dt>Proxy</dt>
        <dd>{model.proxyUrl ?? <span class="muted">direct</span>}</dd>
        <dt>Last error</dt>
        <dd class={model.lastError ? 'bad-text' : ''}>
          {model.lastError ? (
            <>
              <Time iso={model.lastError.at} />: {model.lastError.reason ?? 'token rejected'}
            </>
          ) : (
            <span class="muted">none</span>
          )}
        </dd>
        <dt>Updated</dt>
        <dd>
          <Time iso={model.updatedAt} />
        </dd>
      </dl>
      <div class="actions">
        {model.status === 'connected' ? (
          <ConfirmButton label="Disconnect" question="Its live relays close." danger={false} disabled={busy} onConfirm={() => void act(() => api('POST', `/models/${model.id}/disconnect`, {}))} />
        ) : (
          <button type="button" class="primary" disabled={busy} onClick={() => void act(() => api('POST', `/models/${model.id}/connect`, {}))}>
            Connect
          </button>
        )}
        <button type="button" aria-expanded={open === 'credentials'} onClick={() => setOpen(open === 'credentials' ? 'none' : 'credentials')}>
          Update credentials
        </button>
        <button type="button" aria-expanded={open === 'events'} onClick={() => setOpen(open === 'events' ? 'none' : 'events')}>
          Lifecycle events
        </button>
        <a class="button" href={`/dashboard${href('/playground', model.orgId)}&model=${model.id}`} onClick={(e) => (e.preventDefault(), navigate(`${href('/playground', model.orgId)}&model=${model.id}`))}>
          Playground
        </a>
        <ConfirmButton label="Remove" question="The model and its credentials go; its audit trail stays." disabled={busy} onConfirm={() => void act(() => api('DELETE', `/models/${model.id}`))} />
      </div>
      <FormError error={error} />
      {open === 'credentials' ? <UpdateCredentials model={model} onSaved={onChanged} /> : null}
      {open === 'events' ? <ModelEvents modelId={model.id} /> : null}
    </article>
  );
}

/** What each mode means, shown as the buttons' titles (sessions-contract.md §1). */
const DELIVERY_HINTS: Record<DeliveryMode, string> = {
  relay: 'One OnlyFans socket per client connection, nothing kept (the default)',
  session: 'One OnlyFans socket kept open for the model, its events logged and shared by its clients',
};

/**
 * Relay or session, as two pressed/unpressed buttons: pressing the other one switches the
 * model (its current mode is the pressed one, as the API last answered).
 */
function DeliveryToggle({ model, disabled, onSwitch }: { model: Model; disabled: boolean; onSwitch: (delivery: DeliveryMode) => void }): JSX.Element {
  const modes: DeliveryMode[] = ['relay', 'session'];
  return (
    <span class="toggle" role="group" aria-label="Delivery" data-delivery={model.delivery}>
      {modes.map((mode) => (
        <button key={mode} type="button" aria-pressed={model.delivery === mode} title={DELIVERY_HINTS[mode]} disabled={disabled} onClick={() => model.delivery !== mode && onSwitch(mode)}>
          {mode}
        </button>
      ))}
    </span>
  );
}

function UpdateCredentials({ model, onSaved }: { model: Model; onSaved: () => void }): JSX.Element {
  const [creds, setCreds] = useState<Credentials>(EMPTY);
  const { busy, error, setError, run } = useAction();
  const [saved, setSaved] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setSaved(false);
    const problem = problems(creds, false);
    if (problem) return setError(problem);
    const patch = filled(creds);
    if (Object.keys(patch).length === 0) return setError('Nothing to change: fill in at least one field');
    const done = await run(() => api<Model>('PATCH', `/models/${model.id}`, patch));
    if (done) {
      setCreds(EMPTY);
      setSaved(true);
      onSaved();
    }
  };
  return (
    <form class="sub-form" onSubmit={(e) => void submit(e)} aria-label="Update credentials" noValidate>
      <p class="muted">New credentials clear a rejected token. Empty fields keep what is stored.</p>
      <CredentialFields value={creds} onChange={setCreds} keepHint />
      <JsonImport onImport={(c) => setCreds({ ...creds, ...c })} />
      <FormError error={error} />
      {saved ? <p class="ok-text">Saved.</p> : null}
      <button type="submit" class="primary" disabled={busy}>
        {busy ? 'Saving…' : 'Save credentials'}
      </button>
    </form>
  );
}

function ModelEvents({ modelId }: { modelId: string }): JSX.Element {
  const events = useLoad(() => api<ModelEvent[]>('GET', `/models/${modelId}/events?limit=20`), [modelId]);
  if (events.error) return <LoadError error={events.error} retry={() => void events.reload()} />;
  if (!events.data) return <p class="muted">Loading…</p>;
  return (
    <ol class="events-list" aria-label="Lifecycle events">
      {events.data.map((e) => (
        <li key={e.seq}>
          <Time iso={e.at} /> <EventKind kind={e.kind} /> {e.reason ? <span class="muted">{e.reason}</span> : null}
        </li>
      ))}
    </ol>
  );
}

export function EventKind({ kind }: { kind: string }): JSX.Element {
  const tone =
    kind === 'credentials_rejected' || kind === 'proxy_failing' || kind === 'removed' || kind === 'session.upstream_down'
      ? 'bad'
      : kind === 'disconnected'
        ? 'warn'
        : kind === 'connected' || kind === 'created' || kind === 'session.upstream_restored'
          ? 'good'
          : 'neutral';
  return <Badge tone={tone}>{kind.replace(/_/g, ' ')}</Badge>;
}
