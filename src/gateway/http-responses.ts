/**
 * JSON answers for plain HTTP requests and for upgrade requests refused before the
 * WebSocket handshake (unknown path, shutting down). Same `{error, code}` shape as frames.
 */
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { HTTP_ERRORS, type HttpErrorCode } from '../errors.js';
import type { HandshakeRefusal } from '../wire/handshake.js';

/** `headers`: extra ones, e.g. Allow with a 405 or CORS on the SSE route. */
export function sendJsonError(res: ServerResponse, code: HttpErrorCode, headers: Record<string, string> = {}): void {
  const { httpStatus, message } = HTTP_ERRORS[code];
  const body = JSON.stringify({ error: message, code });
  res.writeHead(httpStatus, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...(httpStatus === 426 ? { upgrade: 'websocket', connection: 'Upgrade' } : {}),
    ...headers,
  });
  res.end(body);
}

/** Writes a complete HTTP response on a raw upgrade socket, then closes it. */
export function rejectUpgrade(socket: Duplex, code: HttpErrorCode): void {
  const { httpStatus, message } = HTTP_ERRORS[code];
  const body = JSON.stringify({ error: message, code });
  socket.end(
    `HTTP/1.1 ${httpStatus} ${STATUS_CODES[httpStatus] ?? ''}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
      body,
  );
}

/** Answers an upgrade request that is not a valid WebSocket handshake (bad key, version…). */
export function rejectHandshake(socket: Duplex, refusal: HandshakeRefusal): void {
  const code: HttpErrorCode = 'BAD_HANDSHAKE';
  const body = JSON.stringify({ error: refusal.message, code });
  let extra = '';
  for (const [name, value] of Object.entries(refusal.headers ?? {})) extra += `${name}: ${value}\r\n`;
  socket.end(
    `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? ''}\r\n` +
      'Connection: close\r\n' +
      extra +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
      body,
  );
}
