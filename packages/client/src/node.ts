/**
 * The Node entry: `ws` (Node 20 has no global WebSocket), with the key in the X-API-Key
 * header, where it stays out of URLs and access logs.
 */
import WebSocket from 'ws';
import { OfgwClient, type ClientOptions } from './client.js';
import { OfgwMultiClient, type ManyOptions } from './multi.js';
import type { SocketFactory } from './socket.js';

export * from './shared.js';

/** A socket factory over `ws`; the key goes in the X-API-Key header. */
export const nodeSocketFactory: SocketFactory = (url, apiKey, handlers) => {
  // permessage-deflate is off on the gateway (contract §4); offering it would only cost a header.
  const socket = new WebSocket(url, { headers: { 'X-API-Key': apiKey }, perMessageDeflate: false });
  socket.on('message', (data, isBinary) => {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    handlers.message(isBinary ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes.toString('utf8'));
  });
  // ws reports failures (refused, reset, non-101) as an error, then a close with 1006.
  socket.on('error', () => {});
  socket.on('close', (code, reason) => handlers.close(code, reason.toString('utf8')));
  return {
    send: (data) => socket.send(data),
    close: (code, reason) => socket.close(code, reason),
  };
};

/**
 * Opens a relay to one model and resolves with the client once the gateway confirmed it;
 * rejects with an {@link OfgwError} carrying the contract's `code` and the `closeCode`.
 * After that the client reconnects on its own (see the README's policy table).
 *
 * @example
 * import { connect } from '@ofgw/client'
 * const client = await connect({ baseUrl: 'wss://gateway.example.com', modelId, apiKey })
 * client.onEvent('api2_chat_message', (message) => console.log(message.text))
 */
export async function connect(options: ClientOptions): Promise<OfgwClient> {
  const client = new OfgwClient(options, nodeSocketFactory);
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
  const client = new OfgwMultiClient(options, nodeSocketFactory);
  await client.start(options.retryInitial ?? false);
  return client;
}
