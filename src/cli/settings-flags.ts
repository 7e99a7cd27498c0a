/**
 * One `--kebab-case` flag per non-secret setting, shared by `ofgw serve` and `ofgw config`
 * (secrets come from the environment or the config file only: flags show in `ps`).
 */
import { loadConfig, SETTINGS, type GatewayConfig } from '../config.js';
import { noPositionals, parse, type OptionSpec } from './args.js';

export const SETTINGS_OPTIONS: OptionSpec = {
  config: { type: 'string' },
  ...Object.fromEntries(
    Object.entries(SETTINGS)
      .filter(([name, setting]) => name !== 'db' && !('secret' in setting && setting.secret))
      .map(([name]) => [kebab(name), { type: name === 'production' || name === 'trustForwardedFor' ? 'boolean' : 'string' }]),
  ),
};

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Parses the command's flags and builds the effective configuration from flags, env and file. */
export function configFromArgs(argv: string[], command: string): { config: GatewayConfig; json: boolean } {
  const { values, positionals } = parse(argv, SETTINGS_OPTIONS, command);
  noPositionals(positionals, command);
  const overrides: Record<string, unknown> = {};
  for (const [flag, value] of Object.entries(values)) {
    if (flag !== 'json' && flag !== 'help' && flag !== 'config') overrides[camel(flag)] = value;
  }
  const configFile = typeof values.config === 'string' ? values.config : undefined;
  return { config: loadConfig(overrides, process.env, configFile), json: values.json === true };
}
