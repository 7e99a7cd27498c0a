/** Runs the built `ofgw` binary as a real process. */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers.js';

export const OFGW = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));

/** A well-formed id no store holds. */
export const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

/**
 * Every record command that names an existing record, given one no store holds. Each must exit
 * 1 with NOT_FOUND, locally and through --url (issue 13 item 6: `model show` and `subscription
 * show` exited 2 with USAGE). `key rotate` is remote only.
 */
export const NOT_FOUND_COMMANDS: readonly string[][] = [
  ['subscription', 'set', '--org', UNKNOWN_ID, '--status', 'active'],
  ['subscription', 'show', '--org', UNKNOWN_ID],
  ['key', 'create', '--org', UNKNOWN_ID],
  ['key', 'list', '--org', UNKNOWN_ID],
  ['key', 'revoke', UNKNOWN_ID],
  ['key', 'rotate', UNKNOWN_ID],
  ['org', 'rename', UNKNOWN_ID, '--name', 'x'],
  ['org', 'delete', UNKNOWN_ID],
  ['model', 'add', '--org', UNKNOWN_ID, '--ws-url', 'wss://ws2.onlyfans.com/ws3/24', '--ws-token', 'eyJ0.e30.c2ln'],
  ['model', 'list', '--org', UNKNOWN_ID],
  ['model', 'show', UNKNOWN_ID],
  ['model', 'show', 'not-a-uuid'],
  ['model', 'events', UNKNOWN_ID],
  ['model', 'update', UNKNOWN_ID, '--name', 'x'],
  ['model', 'connect', UNKNOWN_ID],
  ['model', 'disconnect', UNKNOWN_ID],
  ['model', 'remove', UNKNOWN_ID],
];

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json<T = Record<string, unknown>>(): T;
}

/** Runs `ofgw`; a variable given as `undefined` is removed from the inherited environment. */
export function runCli(args: string[], env: Record<string, string | undefined> = {}, input?: string): Promise<CliResult> {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [OFGW, ...args], { env: merged, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr, json: <T>() => JSON.parse(stdout) as T });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

export interface Served extends Spawned {
  port: number;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts a long-running `ofgw` command, collecting its output. */
export function spawnCli(args: string[], env: Record<string, string> = {}): Spawned {
  const child = spawn(process.execPath, [OFGW, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Starts `ofgw serve` and resolves once its 'gateway listening' log line names the port. */
export async function startServe(args: string[], env: Record<string, string> = {}): Promise<Served> {
  const { child, stdout, stderr, exited } = spawnCli(['serve', ...args], env);
  let done = false;
  void exited.then(() => (done = true));
  let port = 0;
  await waitFor(
    () => {
      if (done) throw new Error(`ofgw serve exited early:\n${stdout()}\n${stderr()}`);
      const line = stdout().split('\n').find((l) => l.includes('"gateway listening"'));
      if (line) port = (JSON.parse(line) as { port: number }).port;
      return port > 0;
    },
    20_000,
    'ofgw serve to listen',
  );
  return {
    child,
    port,
    stdout,
    stderr,
    exited,
    async stop(signal = 'SIGTERM') {
      if (!done) child.kill(signal);
      return exited;
    },
  };
}

/** The model and key of the sandbox banner's copy-paste command (fails when no key was printed). */
export function bannerCommand(stderr: string): { modelId: string; apiKey: string } {
  const m = /npx ofgw connect (\S+) --api-key (ofgw_sk_\S+) --url (\S+)/.exec(stderr);
  assert.ok(m, `a banner with a key:\n${stderr}`);
  return { modelId: m[1] as string, apiKey: m[2] as string };
}
