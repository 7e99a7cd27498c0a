/**
 * `ofgw connect MODEL_ID --api-key KEY`: a minimal relay client that prints every frame, for
 * trying the gateway (the first-run banner prints this command) and for scripts. The key
 * goes in the X-API-Key header, never in the URL.
 */
import WebSocket from 'ws';
import { onePositional, parse, required, UsageError } from '../args.js';
import { gatewayUrl } from '../urls.js';

export async function connectCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { 'api-key': { type: 'string' }, url: { type: 'string' }, send: { type: 'string', multiple: true }, count: { type: 'string' } },
    'connect',
  );
  const modelId = onePositional(positionals, 'MODEL_ID', 'connect');
  const apiKey = required(values['api-key'] ?? process.env.OFGW_API_KEY, '--api-key (or OFGW_API_KEY)', 'connect');
  const base = gatewayUrl(values.url, 'connect');
  const count = values.count === undefined ? Infinity : Number(values.count);
  if (values.count !== undefined && (!Number.isInteger(count) || count < 1)) {
    throw new UsageError(`connect: --count must be a positive integer (got "${values.count}")`);
  }
  const sends = (values.send as unknown as string[] | undefined) ?? [];
  for (const s of sends) {
    try {
      JSON.parse(s);
    } catch {
      throw new UsageError(`connect: --send must be JSON (got ${JSON.stringify(s.slice(0, 40))})`);
    }
  }
  const url = new URL(`/api/models/${encodeURIComponent(modelId)}/ws`, base);

  return new Promise((resolve) => {
    const socket = new WebSocket(url, { headers: { 'X-API-Key': apiKey }, perMessageDeflate: false });
    let events = 0;
    let refused = false;
    socket.on('message', (data, isBinary) => {
      const text = (data as Buffer).toString('utf8');
      process.stdout.write(`${isBinary ? '[binary] ' : ''}${text}\n`);
      let frame: unknown;
      try {
        frame = JSON.parse(text);
      } catch {
        frame = undefined;
      }
      const f = frame as { connected?: unknown; code?: unknown } | undefined;
      if (f?.connected === true) {
        for (const s of sends) socket.send(s);
        return;
      }
      if (typeof f?.code === 'string') refused = true;
      if (++events >= count) socket.close(1000);
    });
    socket.on('close', (code, reason) => {
      process.stderr.write(`closed ${code}${reason.length ? ` ${reason.toString()}` : ''}\n`);
      resolve(refused || (code !== 1000 && code !== 1005) ? 1 : 0);
    });
    socket.on('error', (err) => {
      process.stderr.write(`ofgw connect: ${err.message}\n`);
    });
    const stop = (): void => socket.close(1000);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
