/**
 * Renders `docs/errors.md` from the error catalog, so the documented codes cannot drift
 * from the ones the gateway sends (a test compares the file with this output).
 */
import { ERROR_CATALOG, HTTP_ERRORS, PLAIN_CLOSE_CODES, type ErrorSpec } from '../errors.js';

export function renderErrorsDoc(): string {
  const lines = [
    '# Errors',
    '',
    '<!-- Generated from src/errors.ts by `npm run docs`; a test fails when this file is stale. -->',
    '',
    'When a relay cannot open, or is ended by the gateway, the client receives one text frame',
    '`{"error": "<human text>", "code": "<CODE>"}` and then a close frame whose code is below and',
    'whose reason is the `code` string. Branch on `code`; the `error` text may change. More fields',
    'may be added (for example `retryAfterMs`), never removed.',
    '',
    '| `code` | Close code | HTTP status | Meaning | Client should |',
    '|---|---|---|---|---|',
  ];
  for (const [code, spec] of Object.entries(ERROR_CATALOG)) {
    const entry: ErrorSpec = spec;
    const meaning = entry.note ? `${entry.meaning} (${entry.note})` : entry.meaning;
    lines.push(`| \`${code}\` | ${entry.closeCode} | ${entry.httpStatus} | ${meaning} | ${entry.clientAction} |`);
  }
  lines.push(
    '',
    '## Close codes without an error frame',
    '',
    '| Close code | Meaning | Client should |',
    '|---|---|---|',
  );
  for (const spec of Object.values(PLAIN_CLOSE_CODES)) {
    lines.push(`| ${spec.code} | ${spec.meaning} | ${spec.clientAction} |`);
  }
  lines.push(
    '',
    'When the upstream closes a working relay with a code that may be sent on the wire (1000, 1001,',
    '1003, 1007–1014, 3000–4999) the client gets that code and reason; otherwise (1005, 1006, 1015)',
    'it gets 1014. A client\'s close is passed upstream the same way, with no code becoming 1000.',
    '',
    '## HTTP answers',
    '',
    'Plain HTTP requests, and upgrade requests refused before the WebSocket handshake, get a JSON',
    'body of the same shape.',
    '',
    '| `code` | HTTP status | Meaning |',
    '|---|---|---|',
  );
  for (const [code, spec] of Object.entries(HTTP_ERRORS)) {
    lines.push(`| \`${code}\` | ${spec.httpStatus} | ${spec.message} |`);
  }
  return `${lines.join('\n')}\n`;
}
