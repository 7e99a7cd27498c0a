/**
 * What commands print: JSON with `--json` (for scripts), aligned text otherwise. Errors go
 * to stderr in the same two forms.
 */

/** A record or a list of records. */
export type Printable = object;

export function printResult(result: Printable, json: boolean, columns?: string[]): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else if (Array.isArray(result)) {
    process.stdout.write(table(result as Record<string, unknown>[], columns));
  } else {
    const width = Math.max(0, ...Object.keys(result).map((k) => k.length));
    for (const [k, v] of Object.entries(result)) process.stdout.write(`${k.padEnd(width)}  ${text(v)}\n`);
  }
}

export function printError(message: string, code: string, json: boolean): void {
  process.stderr.write(json ? `${JSON.stringify({ error: message, code })}\n` : `ofgw: ${message}\n`);
}

function table(rows: Record<string, unknown>[], columns?: string[]): string {
  if (rows.length === 0) return '(none)\n';
  const cols = columns ?? Object.keys(rows[0] as object);
  const cells = rows.map((r) => cols.map((c) => text(r[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => (row[i] ?? '').length)));
  const line = (values: string[]): string => `${values.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  ').trimEnd()}\n`;
  return line(cols) + cells.map(line).join('');
}

function text(v: unknown): string {
  if (v === null || v === undefined) return '-';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}
