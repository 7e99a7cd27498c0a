/**
 * The server side of the opening handshake (RFC 6455 §4.2), for the client leg. The gateway
 * negotiates no extension (permessage-deflate is off, contract §4) and, like `ws` without a
 * `handleProtocols` hook, accepts the first subprotocol a client offers.
 */
import type { IncomingMessage } from 'node:http';
import { acceptKey } from './frames.js';

/** Why an upgrade request is not a valid WebSocket handshake: answered with `status`. */
export interface HandshakeRefusal {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

const KEY = /^[+/0-9A-Za-z]{22}==$/;
/** RFC 7230 token characters, for subprotocol names. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The `101 Switching Protocols` response for `req`, or why it cannot be accepted. The
 * caller has already checked the path and `Upgrade: websocket`.
 */
export function acceptHandshake(req: IncomingMessage): string | HandshakeRefusal {
  if (req.method !== 'GET') return { status: 405, message: 'A WebSocket upgrade must use GET', headers: { Allow: 'GET' } };
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !KEY.test(key)) return { status: 400, message: 'Missing or invalid Sec-WebSocket-Key header' };
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') {
    return { status: 400, message: 'Unsupported Sec-WebSocket-Version: use 13', headers: { 'Sec-WebSocket-Version': '13, 8' } };
  }
  let protocol: string | undefined;
  const offered = req.headers['sec-websocket-protocol'];
  if (offered !== undefined) {
    for (const name of offered.split(',')) {
      const trimmed = name.trim();
      if (!TOKEN.test(trimmed)) return { status: 400, message: 'Invalid Sec-WebSocket-Protocol header' };
      protocol ??= trimmed;
    }
  }
  return (
    'HTTP/1.1 101 Switching Protocols\r\n' +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n` +
    (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') +
    '\r\n'
  );
}
