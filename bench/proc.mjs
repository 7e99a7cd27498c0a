// What the bench orchestrators (run.mjs, sessions.mjs) share about processes and ports: CPU and
// RSS from /proc, a free port, waiting for a listener, starting and stopping children.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim() || 100);

/** The path of an installed command (the sbin folders first: nginx and HAProxy live there), or null. */
export function which(cmd) {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', ...(process.env.PATH ?? '').split(':')]) {
    try {
      statSync(join(dir, cmd));
      return join(dir, cmd);
    } catch {}
  }
  return null;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** utime+stime of a pid in ms (fields 14 and 15 of /proc/pid/stat); null when it is gone. */
export function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

/** VmRSS of a pid in kB; null when it is gone. */
export function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** Resolves once something accepts connections on 127.0.0.1:port; throws after timeoutMs. */
export async function waitForPort(port, timeoutMs = 10000, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return;
    await sleep(everyMs);
  }
  throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`);
}

/** Every child started here; any still running is killed when the orchestrator exits. */
export const started = [];

process.on('exit', () => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/**
 * Spawns a long-running child (relay, upstream): stdout drained, the tail of stderr kept
 * (`child.errText()`), an exit before {@link stopProcess} reported through `log`.
 */
export function startProcess(name, cmd, args, options, log) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let errText = '';
  child.stderr.on('data', (d) => {
    errText += d;
    if (errText.length > 20000) errText = errText.slice(-10000);
  });
  child.stdout?.resume?.();
  child.errText = () => errText;
  child.benchName = name;
  child.on('exit', (code, signal) => {
    if (!child.stopping) log(`${name} exited unexpectedly (${code ?? signal}): ${errText.slice(-2000)}`);
  });
  started.push(child);
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited (or 2 s after the SIGKILL). */
export async function stopProcess(child, graceMs = 5000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.stopping = true;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(graceMs)]);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await Promise.race([exited, sleep(2000)]);
  }
}
