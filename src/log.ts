/**
 * Structured JSON logging (pino). Secrets never reach a log line: the redaction list covers
 * every place a key, token, cookie or proxy password could sit, and code logs ids (key id,
 * model id), never the values themselves.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

const REDACT = [
  'apiKey',
  'key',
  'token',
  'wsToken',
  'cookie',
  'proxyUrl',
  'password',
  'headers["x-api-key"]',
  'headers.cookie',
  'headers.authorization',
  '*.apiKey',
  '*.token',
  '*.wsToken',
  '*.cookie',
  '*.password',
];

/** Creates the gateway's logger; `destination` lets tests capture the lines. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, base: { service: 'ofgw' }, redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}

/**
 * Removes the `api_key` query parameter from a request URL, for anything that logs or
 * reports a URL (browsers put the key there because they cannot set headers).
 */
export function redactUrl(url: string): string {
  return url.replace(/([?&]api_key=)[^&#]*/gi, '$1[redacted]');
}
