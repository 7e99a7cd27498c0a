/**
 * What the client core needs from a WebSocket, so one core runs over the browser's
 * `WebSocket` (key in the query) and over `ws` in Node (key in the X-API-Key header).
 */

/** Callbacks a socket factory wires to its socket. */
export interface SocketHandlers {
  /** A message: a string for a text frame, bytes for a binary one. */
  message(data: string | Uint8Array): void;
  /** The socket closed (also when it never opened: 1006). Called once. */
  close(code: number, reason: string): void;
}

/** A socket as the core drives it. */
export interface RelaySocket {
  send(data: string | Uint8Array): void;
  /** Starts the close handshake (or aborts a connection still opening). */
  close(code?: number, reason?: string): void;
}

/**
 * Opens a socket to `url` (the relay endpoint, without the key) authenticated with `apiKey`,
 * in whichever way the runtime allows.
 */
export type SocketFactory = (url: string, apiKey: string, handlers: SocketHandlers) => RelaySocket;
