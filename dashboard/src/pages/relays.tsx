/** Live relays on every node (auto-refreshing), the nodes themselves, and closing one relay. */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, type GatewayNode, type Model, type Organization, type Relay } from '../api';
import { Badge, ConfirmButton, FormError, Id, LoadError, PageHeader, Section, Time, useAction, useLoad } from '../components';

const REFRESH_MS = 2000;

interface View {
  relays: Relay[];
  nodes: GatewayNode[];
  orgNames: Map<string, string>;
  modelNames: Map<string, string>;
}

async function loadView(): Promise<View> {
  const [relays, nodes, orgs, models] = await Promise.all([
    api<Relay[]>('GET', '/relays'),
    api<GatewayNode[]>('GET', '/nodes'),
    api<Organization[]>('GET', '/organizations'),
    api<Model[]>('GET', '/models'),
  ]);
  return {
    relays,
    nodes,
    orgNames: new Map(orgs.map((o) => [o.id, o.name])),
    modelNames: new Map(models.map((m) => [m.id, m.name ?? m.id.slice(0, 8)])),
  };
}

export function RelaysPage(): JSX.Element {
  const view = useLoad(loadView, []);
  const [auto, setAuto] = useState(true);
  useEffect(() => {
    if (!auto) return undefined;
    const timer = setInterval(() => void view.reload(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [auto, view.reload]);
  const data = view.data;
  return (
    <>
      <PageHeader title="Live relays">
        <label class="check">
          <input type="checkbox" name="autoRefresh" checked={auto} onChange={(e) => setAuto((e.currentTarget as HTMLInputElement).checked)} /> Refresh every 2 s
        </label>
        <button type="button" onClick={() => void view.reload()}>
          Refresh now
        </button>
      </PageHeader>
      <LoadError error={view.error} retry={() => void view.reload()} />
      <Section title={`Relays${data ? ` (${data.relays.length})` : ''}`}>
        {!data ? (
          <p class="muted">Loading…</p>
        ) : data.relays.length === 0 ? (
          <p class="muted">No live relay on any node.</p>
        ) : (
          <table class="records">
            <thead>
              <tr>
                <th>Organization</th>
                <th>Model</th>
                <th>Node</th>
                <th>State</th>
                <th>Since</th>
                <th>To OnlyFans</th>
                <th>To client</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {data.relays.map((relay) => (
                <RelayRow key={relay.id} relay={relay} view={data} onClosed={() => void view.reload()} />
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="Nodes">
        {!data ? null : (
          <table class="records">
            <thead>
              <tr>
                <th>Node</th>
                <th>Address</th>
                <th>Version</th>
                <th>Started</th>
                <th>Last seen</th>
                <th>Relays</th>
              </tr>
            </thead>
            <tbody>
              {data.nodes.map((node) => (
                <tr key={node.id}>
                  <td data-label="Node">
                    <code>{node.id}</code> {node.self ? <Badge tone="neutral">this one</Badge> : null}
                  </td>
                  <td data-label="Address">{node.address}</td>
                  <td data-label="Version">{node.version}</td>
                  <td data-label="Started">
                    <Time iso={node.startedAt} />
                  </td>
                  <td data-label="Last seen">
                    <Time iso={node.lastSeenAt} />
                  </td>
                  <td data-label="Relays">{node.relays}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}

function RelayRow({ relay, view, onClosed }: { relay: Relay; view: View; onClosed: () => void }): JSX.Element {
  const { busy, error, run } = useAction();
  return (
    <tr data-relay={relay.id}>
      <td data-label="Organization">{view.orgNames.get(relay.orgId) ?? <Id id={relay.orgId} />}</td>
      <td data-label="Model">
        {view.modelNames.get(relay.modelId) ?? <Id id={relay.modelId} />}
      </td>
      <td data-label="Node">
        <code>{relay.node}</code>
      </td>
      <td data-label="State">
        <Badge tone={relay.state === 'open' ? 'good' : 'warn'}>{relay.state}</Badge>
      </td>
      <td data-label="Since">
        <Time iso={relay.since} />
      </td>
      <td data-label="To OnlyFans" class="num">
        {relay.messagesToUpstream} msg · {bytes(relay.bytesToUpstream)}
      </td>
      <td data-label="To client" class="num">
        {relay.messagesToClient} msg · {bytes(relay.bytesToClient)}
      </td>
      <td data-label="Actions">
        <ConfirmButton label="Close" question="Both legs close with 1000." disabled={busy} onConfirm={() => void run(() => api('DELETE', `/relays/${relay.id}`)).then((r) => r !== undefined && onClosed())} />
        <FormError error={error} />
      </td>
    </tr>
  );
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
