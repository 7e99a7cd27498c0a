/**
 * `ofgw config [--config FILE] [--<setting> V]`: the effective configuration `ofgw serve`
 * would run with (flags, then OFGW_* variables, then the file, then defaults), validated the
 * same way, with secrets masked.
 */
import { maskedConfig } from '../../config.js';
import { configFromArgs } from '../settings-flags.js';

export function configCommand(argv: string[]): number {
  const { config, json } = configFromArgs(argv, 'config');
  const shown = maskedConfig(config);
  if (json) process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
  else {
    const width = Math.max(...Object.keys(shown).map((k) => k.length));
    for (const [k, v] of Object.entries(shown)) process.stdout.write(`${k.padEnd(width)}  ${typeof v === 'object' ? JSON.stringify(v) : String(v)}\n`);
  }
  return 0;
}
