/**
 * One `--kebab-case` flag per non-secret setting, shared by `ofgw serve` and `ofgw config`
 * (secrets come from the environment or the config file only: flags show in `ps`).
 */
import { z } from 'zod';
import { flagOf, loadConfig, SETTINGS, type GatewayConfig, type SettingName } from '../config.js';
import { noPositionals, parse, type OptionSpec } from './args.js';

type Settings = typeof SETTINGS;

/** The settings that have a flag, in the order the docs list them. */
const FLAGGED = (Object.keys(SETTINGS) as SettingName[]).filter((name) => !('secret' in SETTINGS[name] && SETTINGS[name].secret));

/** `--db` is one of every command's own options (args.ts), so it is not declared again here. */
export const SETTINGS_OPTIONS: OptionSpec = {
  config: { type: 'string' },
  ...Object.fromEntries(
    FLAGGED.filter((name) => name !== 'db').map((name) => [flagOf(name).slice(2), { type: typeof SETTINGS[name].default === 'boolean' ? 'boolean' : 'string' }]),
  ),
};

/** What `ofgw --help` shows after a flag taking text; numbers show N, enums their choices. */
const TEXT_VALUES: Partial<Record<SettingName, string>> = {
  host: 'HOST',
  db: 'PATH|URL',
  masterKeyFile: 'FILE',
  upstreamCaFile: 'FILE',
  credentialRefreshUrl: 'URL',
  redis: 'URL',
  redisPrefix: 'PREFIX',
  plans: 'JSON',
};

function valueName<N extends SettingName>(name: N, setting: Settings[N]): string | undefined {
  if (typeof setting.default === 'boolean') return undefined;
  if (typeof setting.default === 'number') return 'N';
  if (setting.schema instanceof z.ZodEnum) return setting.schema.options.join('|');
  return TEXT_VALUES[name] ?? 'TEXT';
}

/**
 * Every flag `serve` and `config` take, for `ofgw --help`: generated from the settings so a
 * new setting cannot be missing there. Lines start with `indent` and stay within `width`.
 */
export function settingFlagsUsage(indent: string, width: number): string {
  const flags = ['--config FILE', ...FLAGGED.map((name) => [flagOf(name), valueName(name, SETTINGS[name])].filter(Boolean).join(' '))];
  const lines: string[] = [];
  let line = indent;
  for (const flag of flags) {
    if (line.length > indent.length && line.length + 2 + flag.length > width) {
      lines.push(line);
      line = indent;
    }
    line += line.length > indent.length ? `  ${flag}` : flag;
  }
  lines.push(line);
  return lines.join('\n');
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
