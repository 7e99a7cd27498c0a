/**
 * The landing page: the last hour of the whole cluster at a glance (GET /overview) — connections
 * open, events per minute, connection attempts by outcome, upstream failures and session
 * reconnects, webhook deliveries — and each session model's state now. Refreshed on its own.
 */
import type { JSX } from 'preact';
import { useEffect } from 'preact/hooks';
import { api, type Organization, type Overview, type SessionModelState } from '../api';
import { BarChart, LineChart } from '../charts';
import { Badge, Id, LoadError, PageHeader, Section, useLoad } from '../components';

/** Never more often than this, whatever the sampling interval. */
const MIN_REFRESH_MS = 2000;

interface View {
  overview: Overview;
  orgNames: Map<string, string>;
}

async function loadView(): Promise<View> {
  const [overview, orgs] = await Promise.all([api<Overview>('GET', '/overview'), api<Organization[]>('GET', '/organizations')]);
  return { overview, orgNames: new Map(orgs.map((o) => [o.id, o.name])) };
}

export function OverviewPage(): JSX.Element {
  const view = useLoad(loadView, []);
  const refreshMs = Math.max(MIN_REFRESH_MS, view.data?.overview.intervalMs ?? 0);
  useEffect(() => {
    const timer = setInterval(() => void view.reload(), refreshMs);
    return () => clearInterval(timer);
  }, [refreshMs, view.reload]);
  const data = view.data;
  return (
    <>
      <PageHeader title="Overview">
        <span class="muted">{data ? `${describeWindow(data.overview)} · refreshed every ${Math.round(refreshMs / 1000)} s` : 'Loading…'}</span>
      </PageHeader>
      <LoadError error={view.error} retry={() => void view.reload()} />
      {data ? <Charts overview={data.overview} /> : null}
      {data ? <SessionModels models={data.overview.sessionModels} orgNames={data.orgNames} /> : null}
    </>
  );
}

function describeWindow(o: Overview): string {
  const minutes = Math.round((o.series.length * o.intervalMs) / 60_000);
  const nodes = o.nodes.length === 1 ? 'this node' : `${o.nodes.length} nodes`;
  const missing = o.missingNodes.length ? ` (${o.missingNodes.length} not answering)` : '';
  return `${nodes}${missing}, the last ${minutes < 1 ? 'minute' : `${minutes} min`}, a sample every ${o.intervalMs / 1000} s`;
}

function Charts({ overview: o }: { overview: Overview }): JSX.Element {
  const times = o.series.map((s) => Date.parse(s.at));
  const attempts = Object.entries(o.totals.attempts);
  const webhooks = Object.entries(o.totals.webhooks) as [string, number][];
  const anyWebhook = webhooks.some(([, n]) => n > 0);
  return (
    <>
      {o.missingNodes.length ? (
        <p class="form-error" role="alert">
          No answer from {o.missingNodes.join(', ')}: their share is missing from the charts.
        </p>
      ) : null}
      {o.series.length === 0 ? <p class="muted">No sample yet: the first one comes within {o.intervalMs / 1000} s.</p> : null}
      <div class="chart-grid-layout">
        <Section title="Connections">
          <LineChart
            title="Connections open"
            times={times}
            lines={[
              { key: 'relays', label: 'Relays', values: o.series.map((s) => s.relays) },
              { key: 'sessionClients', label: 'Session clients', values: o.series.map((s) => s.sessionClients) },
            ]}
          />
        </Section>
        <Section title="Events per minute">
          <LineChart title="Events logged per minute" times={times} lines={[{ key: 'eventsPerMinute', label: 'Events/min', values: o.series.map((s) => s.eventsPerMinute) }]} />
        </Section>
        <Section title="Upstream failures and reconnects">
          <LineChart
            title="Upstream failures and session reconnects per sample"
            times={times}
            lines={[
              { key: 'upstreamFailures', label: 'Upstream failures', values: o.series.map((s) => s.upstreamFailures) },
              { key: 'sessionReconnects', label: 'Session reconnects', values: o.series.map((s) => s.sessionReconnects) },
            ]}
          />
        </Section>
        <Section title="Connection attempts by outcome">
          {attempts.length === 0 ? <p class="muted">No connection attempt finished in this window.</p> : <BarChart title="Finished connection attempts by outcome" counts={attempts} tone={outcomeTone} />}
        </Section>
        <Section title="Webhook deliveries">
          {anyWebhook ? <BarChart title="Webhook delivery attempts by result" counts={webhooks} tone={webhookTone} /> : <p class="muted">No webhook deliveries yet.</p>}
        </Section>
      </div>
    </>
  );
}

function outcomeTone(outcome: string): 'good' | 'bad' | 'neutral' {
  if (outcome === 'ok') return 'good';
  return outcome.startsWith('UPSTREAM') || outcome === 'WS_CONNECT_ERROR' || outcome === 'INTERNAL_ERROR' ? 'bad' : 'neutral';
}

function webhookTone(result: string): 'good' | 'bad' | 'neutral' {
  return result === 'delivered' ? 'good' : result === 'failed' ? 'bad' : 'neutral';
}

const UPSTREAM_TONE = { connected: 'good', reconnecting: 'warn', down: 'bad', 'not running': 'neutral' } as const;

function SessionModels({ models, orgNames }: { models: SessionModelState[]; orgNames: Map<string, string> }): JSX.Element {
  return (
    <Section title={`Session models (${models.length})`}>
      {models.length === 0 ? (
        <p class="muted">No model is in session mode.</p>
      ) : (
        <table class="records">
          <thead>
            <tr>
              <th>Model</th>
              <th>Organization</th>
              <th>Status</th>
              <th>OnlyFans socket</th>
              <th>Node</th>
              <th>Clients</th>
            </tr>
          </thead>
          <tbody>
            {models.map((m) => (
              <tr key={m.id} data-session-model={m.id}>
                <td data-label="Model">{m.name ?? <Id id={m.id} />}</td>
                <td data-label="Organization">{orgNames.get(m.orgId) ?? <Id id={m.orgId} />}</td>
                <td data-label="Status">{m.status}</td>
                <td data-label="OnlyFans socket">
                  <Badge tone={UPSTREAM_TONE[m.upstream]}>{m.upstream}</Badge>
                </td>
                <td data-label="Node">{m.node ? <code>{m.node}</code> : '—'}</td>
                <td data-label="Clients" class="num">
                  {m.clients}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}
