/**
 * Argument parsing for `ofgw` on top of `node:util` parseArgs (strict: an unknown option is
 * an error that names it). Every command shares `--json` and `--db`.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Bad command-line input: exit code 2 and a message naming what was wrong. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export const COMMON_OPTIONS = {
  json: { type: 'boolean' },
  db: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionSpec;

export interface Parsed<O extends OptionSpec> {
  values: { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string };
  positionals: string[];
}

/** Parses `argv` against `options` (plus the common ones); unknown options throw UsageError. */
export function parse<O extends OptionSpec>(argv: string[], options: O, command: string): Parsed<O & typeof COMMON_OPTIONS> {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
    return { values, positionals } as unknown as Parsed<O & typeof COMMON_OPTIONS>;
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message.replace(/\. To specify a positional argument.*$/s, '')}`);
  }
}

/** The value of a required option, or a UsageError naming it. */
export function required(value: string | undefined, flag: string, command: string): string {
  if (value === undefined || value === '') throw new UsageError(`${command}: missing required option ${flag}`);
  return value;
}

/** The single positional argument (an id), or a UsageError naming it. */
export function onePositional(positionals: string[], what: string, command: string): string {
  if (positionals.length === 0) throw new UsageError(`${command}: missing ${what}`);
  if (positionals.length > 1) throw new UsageError(`${command}: unexpected argument "${positionals[1]}"`);
  return positionals[0] as string;
}

export function noPositionals(positionals: string[], command: string): void {
  if (positionals.length > 0) throw new UsageError(`${command}: unexpected argument "${positionals[0]}"`);
}
