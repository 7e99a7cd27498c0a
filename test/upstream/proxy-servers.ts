/**
 * Real proxy servers for the proxy tests: Debian's dante-server (`danted`, SOCKS5) and
 * `tinyproxy` (HTTP CONNECT), each started in the foreground on a free port on 127.0.0.1 with
 * its config in a temp dir, its log captured, and stopped with its whole process group.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { delimiter, join } from 'node:path';
import { freePort, waitFor } from '../helpers.js';

/** The system account dante checks `socksmethod: username` against; the password is set here. */
export const SOCKS_USER = 'ofgwproxy';
/** Characters that need percent-encoding in a URL, to prove the encoded form works and never leaks. */
export const SOCKS_PASSWORD = 'pr0xy@p:ss/w%rd#1';

export interface ProxyServer {
  port: number;
  /** Everything the server logged so far. */
  log(): string;
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 5000;
const STOP_TIMEOUT_MS = 5000;

/**
 * Why these tests cannot run here, or undefined when they can: both servers and openssl
 * installed, and root, which dante needs to check system
 * passwords and the test needs to create {@link SOCKS_USER}.
 */
export function missingPrerequisite(): string | undefined {
  const missing = ['danted', 'tinyproxy', 'openssl'].filter((name) => !findExecutable(name));
  if (missing.length > 0) return `${missing.join(', ')} not installed (apt-get install dante-server tinyproxy openssl)`;
  if (process.getuid?.() !== 0) return 'not root: dante checks system passwords and the test creates a system user';
  return undefined;
}

/** Creates {@link SOCKS_USER} if missing (no home, no login shell) and sets its password. */
export function ensureSocksUser(): void {
  try {
    execFileSync('id', ['-u', SOCKS_USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', SOCKS_USER], { stdio: 'pipe' });
  }
  execFileSync('chpasswd', { input: `${SOCKS_USER}:${SOCKS_PASSWORD}\n`, stdio: ['pipe', 'ignore', 'pipe'] });
}

/** A dante SOCKS5 server; with `auth`, only system users with their password get through. */
export async function startDante(dir: string, options: { auth: boolean }): Promise<ProxyServer> {
  const port = await freePort();
  const name = `danted-${port}`;
  const config = join(dir, `${name}.conf`);
  writeFileSync(
    config,
    [
      'logoutput: stderr',
      `internal: 127.0.0.1 port = ${port}`,
      'external: 127.0.0.1',
      'clientmethod: none',
      `socksmethod: ${options.auth ? 'username' : 'none'}`,
      // Root checks the passwords; the relaying children drop to nobody.
      'user.privileged: root',
      'user.unprivileged: nobody',
      'client pass {',
      '  from: 127.0.0.1/32 to: 0.0.0.0/0',
      '  log: error connect disconnect',
      '}',
      'socks pass {',
      '  from: 127.0.0.1/32 to: 0.0.0.0/0',
      '  command: connect',
      '  log: error connect disconnect',
      '}',
      '',
    ].join('\n'),
  );
  return startServer(findExecutable('danted') as string, ['-f', config, '-p', join(dir, `${name}.pid`)], port);
}

export interface TinyproxyOptions {
  basicAuth?: { user: string; password: string };
  /** Ports CONNECT may reach; default any. */
  connectPorts?: number[];
}

/** A tinyproxy HTTP proxy (CONNECT only matters here). */
export async function startTinyproxy(dir: string, options: TinyproxyOptions = {}): Promise<ProxyServer> {
  const port = await freePort();
  const config = join(dir, `tinyproxy-${port}.conf`);
  const lines = [`Port ${port}`, 'Listen 127.0.0.1', 'Allow 127.0.0.1', 'LogLevel Info', 'MaxClients 50', 'Timeout 60'];
  // tinyproxy's parser takes only [-a-z0-9._] in these two words.
  if (options.basicAuth) lines.push(`BasicAuth ${options.basicAuth.user} ${options.basicAuth.password}`);
  for (const allowed of options.connectPorts ?? []) lines.push(`ConnectPort ${allowed}`);
  // No LogFile and no Syslog: in the foreground (-d) tinyproxy logs to stdout.
  writeFileSync(config, `${lines.join('\n')}\n`);
  return startServer(findExecutable('tinyproxy') as string, ['-d', '-c', config], port);
}

/** Starts `command` in its own process group and resolves once `port` accepts connections. */
async function startServer(command: string, args: string[], port: number): Promise<ProxyServer> {
  const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });
  const server: ProxyServer = { port, log: () => output, close: () => stopGroup(child, exited) };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (spawnError || child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      await server.close();
      throw new Error(`${command} did not start listening on 127.0.0.1:${port}: ${spawnError?.message ?? ''}\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return server;
}

/**
 * Stops the server: SIGTERM to it (dante then stops and reaps its children), SIGKILL to the
 * group if it lingers, and then waits until no process of its group is left running.
 */
async function stopGroup(child: ChildProcess, exited: Promise<void>): Promise<void> {
  const group = child.pid;
  if (group === undefined) return; // it never started
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const stopped = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), STOP_TIMEOUT_MS).unref())]);
    if (!stopped) signalGroup(group, 'SIGKILL');
  }
  await exited;
  if (groupRunning(group)) signalGroup(group, 'SIGTERM');
  try {
    await waitFor(() => !groupRunning(group), STOP_TIMEOUT_MS, `process group ${group} to exit`);
  } catch (err) {
    signalGroup(group, 'SIGKILL');
    throw err;
  }
}

function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal);
  } catch {
    // nothing left to signal
  }
}

/**
 * Whether a process of the group still runs. Zombies do not count: an orphan is reaped by
 * whatever runs as PID 1, which the test does not control.
 */
function groupRunning(group: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // After "pid (comm) ": state, ppid, pgrp, …; comm may contain spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === group && state !== 'Z') return true;
  }
  return false;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The path of `name` on PATH or in the sbin directories, which a non-root PATH may lack. */
function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
