/**
 * `ofgw sandbox`: the OnlyFans simulator on its own, with realistic events, for trying the
 * gateway or a client without an OnlyFans account. Prints a token and URL ready for
 * `ofgw model add`.
 */
import { startSimulator } from '../../sandbox/index.js';
import { noPositionals, parse, UsageError } from '../args.js';

function portOf(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`sandbox: ${flag} must be a port number 0–65535 (got "${value}")`);
  return n;
}

export async function sandboxCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { port: { type: 'string' }, host: { type: 'string' }, 'interval-ms': { type: 'string' }, 'user-id': { type: 'string' }, quiet: { type: 'boolean' } },
    'sandbox',
  );
  noPositionals(positionals, 'sandbox');
  const port = portOf(values.port, '--port', 8081);
  const intervalMs = values['interval-ms'] === undefined ? 3000 : Number(values['interval-ms']);
  if (!Number.isInteger(intervalMs) || intervalMs < 0) throw new UsageError(`sandbox: --interval-ms must be a whole number of milliseconds, 0 for no events (got "${values['interval-ms']}")`);
  const userId = values['user-id'] ?? '100001';
  if (!/^\d{1,15}$/.test(userId)) throw new UsageError(`sandbox: --user-id must be a numeric OnlyFans user id (got "${userId}")`);

  const simulator = await startSimulator({
    host: values.host ?? '127.0.0.1',
    port,
    initialCounters: true,
    generator: intervalMs > 0 ? { intervalMs } : false,
  });
  const info = { wsUrl: simulator.wsUrl(24), token: simulator.issueToken({ userId }), userId, controlUrl: `http://${simulator.host}:${simulator.port}/_sim/` };
  if (values.json) process.stdout.write(`${JSON.stringify(info)}\n`);
  else {
    process.stdout.write(
      [
        `OnlyFans simulator listening on ${simulator.host}:${simulator.port}`,
        `  wsUrl   ${info.wsUrl}`,
        `  token   ${info.token}   (user ${userId}, valid 24 h)`,
        `  control ${info.controlUrl}  (POST tokens, users/{id}/push, faults)`,
        'Add it to a gateway store with:',
        `  npx ofgw model add --org ORG_ID --ws-url ${info.wsUrl} --ws-token ${info.token}`,
        '',
      ].join('\n'),
    );
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await simulator.close();
  return 0;
}
