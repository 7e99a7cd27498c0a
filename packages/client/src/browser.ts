/**
 * The browser entry: the global `WebSocket`, with the key in the `api_key` query parameter
 * (browsers cannot set headers on a WebSocket). Imports nothing from Node, so bundlers and
 * plain `<script type="module">` pages can load it; it also runs on Node ≥ 22, Deno and Bun,
 * which have a global WebSocket.
 */
import { OfgwClient, type ClientOptions } from './client.js';
import { OfgwMultiClient, type ManyOptions } from './multi.js';
import type { SocketFactory } from './socket.js';

export * from './shared.js';
export { events, type EventStream, type EventStreamOptions, type StreamEvent, type StreamReady } from './sse.js';

/** The part of the WHATWG WebSocket this entry uses (typed here so no DOM library is needed). */
interface BrowserWebSocket {
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
}
type BrowserWebSocketConstructor = new (url: string) => BrowserWebSocket;

/** A socket factory over the global WebSocket; the key goes in `?api_key=`. */
export const browserSocketFactory: SocketFactory = (url, apiKey, handlers) => {
  const WebSocketImpl = (globalThis as { WebSocket?: BrowserWebSocketConstructor }).WebSocket;
  if (typeof WebSocketImpl !== 'function') {
    throw new Error('no global WebSocket in this runtime: on Node 20 use the "@ofgw/client/node" entry');
  }
  // The url may hold the format and since already.
  const socket = new WebSocketImpl(`${url}${url.includes('?') ? '&' : '?'}api_key=${encodeURIComponent(apiKey)}`);
  socket.binaryType = 'arraybuffer';
  socket.addEventListener('message', ({ data }) => {
    if (typeof data === 'string') handlers.message(data);
    else if (data instanceof ArrayBuffer) handlers.message(new Uint8Array(data));
  });
  socket.addEventListener('close', ({ code, reason }) => handlers.close(code, reason));
  return socket;
};

/**
 * Opens a relay to one model and resolves with the client once the gateway confirmed it;
 * rejects with an {@link OfgwError} carrying the contract's `code` and the `closeCode`.
 * After that the client reconnects on its own (see the README's policy table).
 *
 * @example
 * import { connect } from '@ofgw/client'
 * const client = await connect({ baseUrl: 'wss://gateway.example.com', modelId, apiKey })
 * client.on('message', ({ frame }) => console.log(frame))
 */
export async function connect(options: ClientOptions): Promise<OfgwClient> {
  const client = new OfgwClient(options, browserSocketFactory);
  await client.start(options.retryInitial ?? false);
  return client;
}

/**
 * Opens one socket for several session-mode models and resolves once the gateway confirmed it
 * (at least one model admitted; the refused ones come as `modelError` events). Reconnects like
 * `connect()`, resuming each model after its last event.
 *
 * @example
 * const client = await connectMany({ baseUrl: 'wss://gateway.example.com', models: [a, b], apiKey })
 * client.on('event', (e) => console.log(e.modelId, e.event))
 */
export async function connectMany(options: ManyOptions): Promise<OfgwMultiClient> {
  const client = new OfgwMultiClient(options, browserSocketFactory);
  await client.start(options.retryInitial ?? false);
  return client;
}
