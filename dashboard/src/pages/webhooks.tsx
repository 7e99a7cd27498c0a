/**
 * An organization's webhook endpoints: add (the signing secret shown once, with a copy
 * button), enable or disable, rotate the secret (the new one shown once; the old one keeps
 * signing for the overlap), send a test, delete; and an endpoint's delivery log (`?webhook=`),
 * filtered by status, each delivery's attempts on demand, redeliver.
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, type WebhookAttempt, type WebhookDelivery, type WebhookDeliveryStatus, type WebhookEndpoint, type WebhookEndpointWithSecret } from '../api';
import { Badge, ConfirmButton, CopyButton, Field, FormError, LoadError, PageHeader, Section, Time, useAction, useLoad } from '../components';
import { OrgPicker, useOrganization } from '../org-picker';
import { navigate, type Location } from '../router';

const STATUSES: WebhookDeliveryStatus[] = ['pending', 'delivered', 'failed'];

/** A comma-separated list as the API takes it: empty means every one (null). */
function listOf(text: string): string[] | null {
  const entries = text.split(',').map((e) => e.trim()).filter((e) => e !== '');
  return entries.length === 0 ? null : entries;
}

export function WebhooksPage({ location }: { location: Location }): JSX.Element {
  const orgState = useOrganization(location);
  const { org } = orgState;
  const [shown, setShown] = useState<WebhookEndpointWithSecret | undefined>();
  const endpoints = useLoad(() => (org ? api<WebhookEndpoint[]>('GET', `/organizations/${org.id}/webhooks`) : Promise.resolve(undefined)), [org?.id]);
  const selected = endpoints.data?.find((e) => e.id === location.query.get('webhook'));

  const withSecret = (endpoint: WebhookEndpointWithSecret): void => {
    setShown(endpoint);
    void endpoints.reload();
  };
  const showLog = (endpoint: WebhookEndpoint): void => navigate(`/webhooks?org=${endpoint.orgId}&webhook=${endpoint.id}`);

  return (
    <>
      <PageHeader title="Webhooks">
        <OrgPicker location={location} {...orgState} />
      </PageHeader>
      {shown && shown.orgId === org?.id ? <ShownSecret endpoint={shown} onDone={() => setShown(undefined)} /> : null}
      {org ? <AddEndpoint orgId={org.id} onAdded={withSecret} /> : null}
      {org ? (
        <Section title={`Endpoints of ${org.name}`}>
          <LoadError error={endpoints.error} retry={() => void endpoints.reload()} />
          {endpoints.data === undefined ? (
            <p class="muted">Loading…</p>
          ) : endpoints.data.length === 0 ? (
            <p class="muted">No webhook endpoint yet.</p>
          ) : (
            <table class="records">
              <thead>
                <tr>
                  <th>URL</th>
                  <th>Events</th>
                  <th>Status</th>
                  <th>Created</th>
                  <th>Actions</th>
                </tr>
              </thead>
              <tbody>
                {endpoints.data.map((endpoint) => (
                  <EndpointRow key={endpoint.id} endpoint={endpoint} onChanged={() => void endpoints.reload()} onRotated={withSecret} onShowLog={showLog} />
                ))}
              </tbody>
            </table>
          )}
        </Section>
      ) : null}
      {selected ? <DeliveryLog key={selected.id} endpoint={selected} /> : null}
    </>
  );
}

/** The secret in clear, this once. */
function ShownSecret({ endpoint, onDone }: { endpoint: WebhookEndpointWithSecret; onDone: () => void }): JSX.Element {
  return (
    <section class="card shown-key" aria-label="Signing secret" role="status">
      <h2>Signing secret of {endpoint.url}</h2>
      <p class="warning">
        <strong>Copy it now: you won't see it again.</strong> Your receiver verifies every delivery with it (Standard Webhooks); a lost secret is replaced by
        rotating, not recovered.
      </p>
      <div class="key-line">
        <input class="key-value" readOnly value={endpoint.secret} aria-label="The signing secret" onFocus={(e) => (e.currentTarget as HTMLInputElement).select()} />
        <CopyButton text={endpoint.secret} />
      </div>
      {endpoint.previousSecretUntil ? (
        <p class="muted">
          The previous secret keeps signing too until <Time iso={endpoint.previousSecretUntil} />.
        </p>
      ) : null}
      <button type="button" onClick={onDone}>
        I have copied it
      </button>
    </section>
  );
}

function AddEndpoint({ orgId, onAdded }: { orgId: string; onAdded: (endpoint: WebhookEndpointWithSecret) => void }): JSX.Element {
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState('');
  const [models, setModels] = useState('');
  const { busy, error, setError, run } = useAction();
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (url.trim() === '') return setError('URL: required');
    const body = { url: url.trim(), events: listOf(events), models: listOf(models) };
    const added = await run(() => api<WebhookEndpointWithSecret>('POST', `/organizations/${orgId}/webhooks`, body));
    if (added) {
      setUrl('');
      setEvents('');
      setModels('');
      onAdded(added);
    }
  };
  return (
    <Section title="New endpoint">
      <form class="inline-form" onSubmit={(e) => void submit(e)} aria-label="New endpoint" noValidate>
        <Field label="URL" name="url" type="url" value={url} onInput={setUrl} placeholder="https://crm.example.com/hooks/ofgw" required />
        <Field label="Events (optional)" name="events" value={events} onInput={setEvents} placeholder="onlyfans.*, model.*" hint="Comma-separated; empty: every type" />
        <Field label="Models (optional)" name="models" value={models} onInput={setModels} placeholder="model ids" hint="Comma-separated; empty: every model" />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Adding…' : 'Add endpoint'}
        </button>
      </form>
      <FormError error={error} />
    </Section>
  );
}

function EndpointRow({
  endpoint,
  onChanged,
  onRotated,
  onShowLog,
}: {
  endpoint: WebhookEndpoint;
  onChanged: () => void;
  onRotated: (endpoint: WebhookEndpointWithSecret) => void;
  onShowLog: (endpoint: WebhookEndpoint) => void;
}): JSX.Element {
  const { busy, error, run } = useAction();
  const [tested, setTested] = useState(false);
  const path = `/webhooks/${endpoint.id}`;
  return (
    <tr data-webhook={endpoint.id}>
      <td data-label="URL">
        <code>{endpoint.url}</code>
        {endpoint.models ? <span class="muted small"> ({endpoint.models.length} models)</span> : null}
      </td>
      <td data-label="Events">{endpoint.events ? endpoint.events.join(', ') : <span class="muted">every type</span>}</td>
      <td data-label="Status">
        {endpoint.enabled ? <Badge tone="good">enabled</Badge> : <Badge tone="warn">disabled</Badge>}
        {endpoint.disabledReason ? <span class="muted small"> {endpoint.disabledReason}</span> : null}
      </td>
      <td data-label="Created">
        <Time iso={endpoint.createdAt} />
      </td>
      <td data-label="Actions">
        <div class="actions">
          <button type="button" disabled={busy} onClick={() => void run(() => api('PATCH', path, { enabled: !endpoint.enabled })).then((r) => r && onChanged())}>
            {endpoint.enabled ? 'Disable' : 'Enable'}
          </button>
          <button type="button" disabled={busy} onClick={() => void run(() => api<WebhookDelivery>('POST', `${path}/test`, {})).then((d) => d && setTested(true))}>
            {tested ? 'Test queued ✓' : 'Send test'}
          </button>
          <button type="button" onClick={() => onShowLog(endpoint)}>
            Deliveries
          </button>
          <ConfirmButton
            label="Rotate secret"
            danger={false}
            question="A new secret signs from now on; the old one keeps signing beside it for the overlap."
            disabled={busy}
            onConfirm={() => void run(() => api<WebhookEndpointWithSecret>('POST', `${path}/rotate-secret`, {})).then((e) => e && onRotated(e))}
          />
          <ConfirmButton label="Delete" question="It is removed with its delivery log." disabled={busy} onConfirm={() => void run(() => api('DELETE', path)).then(() => onChanged())} />
        </div>
        <FormError error={error} />
      </td>
    </tr>
  );
}

function DeliveryLog({ endpoint }: { endpoint: WebhookEndpoint }): JSX.Element {
  const [status, setStatus] = useState<WebhookDeliveryStatus | ''>('');
  const deliveries = useLoad(
    () => api<WebhookDelivery[]>('GET', `/webhooks/${endpoint.id}/deliveries${status === '' ? '' : `?status=${status}`}`),
    [endpoint.id, status],
  );
  return (
    <Section title={`Deliveries to ${endpoint.url}`} id="deliveries">
      <div class="inline-form">
        <label class="field">
          <span class="field-label">Status</span>
          <select name="status" value={status} onChange={(e) => setStatus((e.currentTarget as HTMLSelectElement).value as WebhookDeliveryStatus | '')}>
            <option value="">all</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => void deliveries.reload()}>
          Refresh
        </button>
      </div>
      <LoadError error={deliveries.error} retry={() => void deliveries.reload()} />
      {deliveries.data === undefined ? (
        <p class="muted">Loading…</p>
      ) : deliveries.data.length === 0 ? (
        <p class="muted">No delivery{status === '' ? '' : ` ${status}`} yet.</p>
      ) : (
        <table class="records">
          <thead>
            <tr>
              <th>Webhook id</th>
              <th>Type</th>
              <th>Status</th>
              <th>Attempts</th>
              <th>Last answer</th>
              <th>Created</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {deliveries.data.map((d) => (
              <DeliveryRow key={d.id} delivery={d} onRedelivered={() => void deliveries.reload()} />
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}

const STATUS_TONES: Record<WebhookDeliveryStatus, 'good' | 'bad' | 'warn'> = { delivered: 'good', failed: 'bad', pending: 'warn' };

function DeliveryRow({ delivery, onRedelivered }: { delivery: WebhookDelivery; onRedelivered: () => void }): JSX.Element {
  const { busy, error, run } = useAction();
  const [attempts, setAttempts] = useState<WebhookAttempt[] | undefined>();
  const showAttempts = (): void =>
    void run(() => api<WebhookDelivery & { attemptLog: WebhookAttempt[] }>('GET', `/deliveries/${encodeURIComponent(delivery.id)}`)).then((d) => d && setAttempts(d.attemptLog));
  return (
    <tr data-delivery={delivery.id}>
      <td data-label="Webhook id">
        <code>{delivery.id}</code>
      </td>
      <td data-label="Type">{delivery.type}</td>
      <td data-label="Status">
        <Badge tone={STATUS_TONES[delivery.status]}>{delivery.status}</Badge>
        {delivery.nextAttemptAt && delivery.attempts > 0 ? (
          <span class="muted small">
            {' '}
            next <Time iso={delivery.nextAttemptAt} />
          </span>
        ) : null}
      </td>
      <td data-label="Attempts">
        {delivery.attempts}
        {attempts ? (
          <ol class="attempts" aria-label="Attempts">
            {attempts.map((a) => (
              <li key={a.seq}>
                <Time iso={a.at} /> · {a.statusCode ?? 'no answer'} · {a.latencyMs} ms · {a.node}
                {a.error ? <span class="muted"> · {a.error}</span> : null}
              </li>
            ))}
          </ol>
        ) : null}
      </td>
      <td data-label="Last answer">{delivery.lastStatusCode ?? <span class="muted">{delivery.lastError ?? '—'}</span>}</td>
      <td data-label="Created">
        <Time iso={delivery.createdAt} />
      </td>
      <td data-label="Actions">
        <div class="actions">
          <button type="button" disabled={busy} onClick={showAttempts}>
            Attempts
          </button>
          <button type="button" disabled={busy} onClick={() => void run(() => api('POST', `/deliveries/${encodeURIComponent(delivery.id)}/redeliver`, {})).then((r) => r && onRedelivered())}>
            Redeliver
          </button>
        </div>
        <FormError error={error} />
      </td>
    </tr>
  );
}
