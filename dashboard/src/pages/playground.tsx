/**
 * The playground: opens a model's relay the way a browser customer would (the API key in
 * `?api_key=`, the contract's browser form), shows the confirmation, the events as they
 * arrive (newest first, the last 200) and the close code, and sends actions such as
 * get_onlines. The connection lives outside the page, so it stays open while you revoke
 * its key on the Keys page.
 */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, type Model } from '../api';
import { Badge, Field, FormError, LoadError, PageHeader, Section, useLoad } from '../components';
import { useHeldKeys } from '../memory';
import { OrgPicker, useOrganization } from '../org-picker';
import type { Location } from '../router';

const MAX_EVENTS = 200;
const DEFAULT_MESSAGE = '{"act":"get_onlines","ids":["12345678"]}';

interface Shown {
  n: number;
  at: string;
  direction: 'in' | 'out' | 'info';
  text: string;
}

interface PlaygroundState {
  status: 'idle' | 'connecting' | 'open' | 'closed';
  modelId?: string;
  /** The close code and reason, once closed. */
  close?: { code: number; reason: string };
  events: Shown[];
}

/** The one playground connection of this tab. */
const playground = {
  state: { status: 'idle', events: [] } as PlaygroundState,
  socket: undefined as WebSocket | undefined,
  counter: 0,
  listeners: new Set<() => void>(),

  update(patch: Partial<PlaygroundState>): void {
    this.state = { ...this.state, ...patch };
    this.listeners.forEach((l) => l());
  },

  add(direction: Shown['direction'], text: string): void {
    const shown: Shown = { n: ++this.counter, at: new Date().toLocaleTimeString(), direction, text };
    this.update({ events: [shown, ...this.state.events].slice(0, MAX_EVENTS) });
  },

  open(modelId: string, apiKey: string): void {
    this.socket?.close(1000);
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    // Browsers cannot set headers on a WebSocket: the contract takes the key in the query.
    const url = `${scheme}://${window.location.host}/api/models/${encodeURIComponent(modelId)}/ws?api_key=${encodeURIComponent(apiKey)}`;
    const socket = new WebSocket(url);
    this.socket = socket;
    this.update({ status: 'connecting', modelId, close: undefined, events: [] });
    socket.addEventListener('message', (e) => {
      if (socket !== this.socket) return;
      const text = typeof e.data === 'string' ? e.data : '(binary frame)';
      if (this.state.status === 'connecting' && /"connected"\s*:\s*true/.test(text)) this.update({ status: 'open' });
      this.add('in', text);
    });
    socket.addEventListener('close', (e) => {
      if (socket !== this.socket) return;
      this.update({ status: 'closed', close: { code: e.code, reason: e.reason } });
      this.add('info', `closed: ${e.code}${e.reason ? ` ${e.reason}` : ''}`);
    });
  },

  send(text: string): void {
    this.socket?.send(text);
    this.add('out', text);
  },

  close(): void {
    this.socket?.close(1000);
  },
};

function usePlayground(): PlaygroundState {
  const [state, setState] = useState(playground.state);
  useEffect(() => {
    const update = (): void => setState(playground.state);
    playground.listeners.add(update);
    return () => void playground.listeners.delete(update);
  }, []);
  return state;
}

/** The connection's state in the navigation, so a close is seen from any page. */
export function PlaygroundBadge(): JSX.Element | null {
  const state = usePlayground();
  if (state.status === 'idle') return null;
  if (state.status === 'closed') return <span class="dot dot-bad" title={`closed ${state.close?.code ?? ''}`} aria-label="playground closed" />;
  return <span class={`dot ${state.status === 'open' ? 'dot-good' : 'dot-warn'}`} aria-label={`playground ${state.status}`} />;
}

export function PlaygroundPage({ location }: { location: Location }): JSX.Element {
  const orgState = useOrganization(location);
  const { org } = orgState;
  const state = usePlayground();
  const held = useHeldKeys().filter((k) => k.orgId === org?.id);
  const models = useLoad(() => (org ? api<Model[]>('GET', `/organizations/${org.id}/models`) : Promise.resolve(undefined)), [org?.id]);
  const [modelId, setModelId] = useState(location.query.get('model') ?? '');
  const [keyChoice, setKeyChoice] = useState('');
  const [pasted, setPasted] = useState('');
  const [message, setMessage] = useState(DEFAULT_MESSAGE);
  const [openError, setOpenError] = useState<string | undefined>();
  const [sendError, setSendError] = useState<string | undefined>();

  const chosenModel = models.data?.find((m) => m.id === modelId) ?? models.data?.[0];
  const chosenKey = keyChoice === 'paste' || held.length === 0 ? undefined : (held.find((k) => k.id === keyChoice) ?? held[0]);
  const live = state.status === 'connecting' || state.status === 'open';

  const open = (e: Event): void => {
    e.preventDefault();
    if (!chosenModel) return setOpenError('Model: choose one (add a model on the Models page first)');
    const apiKey = chosenKey?.key ?? pasted.trim();
    if (apiKey === '') return setOpenError('API key: paste a key of this organization, or create one on the Keys page');
    setOpenError(undefined);
    playground.open(chosenModel.id, apiKey);
  };
  const send = (e: Event): void => {
    e.preventDefault();
    try {
      JSON.parse(message);
    } catch (err) {
      return setSendError(`Message: not valid JSON (${(err as Error).message})`);
    }
    if (state.status !== 'open') return setSendError('Message: the relay is not open');
    setSendError(undefined);
    playground.send(message);
  };

  return (
    <>
      <PageHeader title="Playground">
        <OrgPicker location={location} {...orgState} />
      </PageHeader>
      <Section title="Open a relay">
        <LoadError error={models.error} retry={() => void models.reload()} />
        <form class="grid-fields" onSubmit={open} aria-label="Open a relay" noValidate>
          <label class="field">
            <span class="field-label">Model</span>
            <select name="model" value={chosenModel?.id ?? ''} onChange={(e) => setModelId((e.currentTarget as HTMLSelectElement).value)}>
              {(models.data ?? []).map((m) => (
                <option key={m.id} value={m.id}>
                  {m.name ?? m.id} ({m.status})
                </option>
              ))}
            </select>
          </label>
          <label class="field">
            <span class="field-label">API key</span>
            <select name="keyChoice" value={chosenKey?.id ?? 'paste'} onChange={(e) => setKeyChoice((e.currentTarget as HTMLSelectElement).value)}>
              {held.length > 0 ? (
                <optgroup label="Created in this tab">
                  {held.map((k) => (
                    <option key={k.id} value={k.id}>
                      {k.name ?? 'key'} · {k.prefix}…
                    </option>
                  ))}
                </optgroup>
              ) : null}
              <option value="paste">Paste a key…</option>
            </select>
          </label>
          {chosenKey ? null : <Field label="Paste an API key" name="apiKey" type="password" value={pasted} onInput={setPasted} placeholder="ofgw_sk_…" />}
          <div class="form-buttons">
            <button type="submit" class="primary" disabled={live}>
              Open relay
            </button>
            <button type="button" disabled={!live} onClick={() => playground.close()}>
              Close
            </button>
          </div>
        </form>
        <FormError error={openError} />
        <p class="relay-status" role="status" data-status={state.status}>
          <StatusLine state={state} />
        </p>
      </Section>
      <Section title="Send an action">
        <form onSubmit={send} aria-label="Send an action" noValidate>
          <label class="field">
            <span class="field-label">Message (JSON, relayed as it is)</span>
            <textarea name="message" rows={3} value={message} spellcheck={false} onInput={(e) => setMessage((e.currentTarget as HTMLTextAreaElement).value)} />
          </label>
          <FormError error={sendError} />
          <button type="submit" class="primary" disabled={state.status !== 'open'}>
            Send
          </button>
        </form>
      </Section>
      <Section title={`Frames (newest first, last ${MAX_EVENTS})`}>
        {state.events.length === 0 ? (
          <p class="muted">Nothing yet.</p>
        ) : (
          <ol class="frames" aria-label="Frames">
            {state.events.map((f) => (
              <li key={f.n} class={`frame frame-${f.direction}`} data-direction={f.direction}>
                <span class="frame-meta">
                  {f.at} {f.direction === 'in' ? '↓' : f.direction === 'out' ? '↑' : '•'}
                </span>
                <code>{f.text}</code>
              </li>
            ))}
          </ol>
        )}
      </Section>
    </>
  );
}

function StatusLine({ state }: { state: PlaygroundState }): JSX.Element {
  switch (state.status) {
    case 'idle':
      return <span class="muted">Not connected.</span>;
    case 'connecting':
      return <Badge tone="warn">connecting…</Badge>;
    case 'open':
      return (
        <>
          <Badge tone="good">open</Badge> relay confirmed for model <code>{state.modelId}</code>
        </>
      );
    case 'closed':
      return (
        <>
          <Badge tone="bad">closed</Badge> code <strong class="close-code">{state.close?.code}</strong> <span class="close-reason">{state.close?.reason || '(no reason)'}</span>
        </>
      );
  }
}
