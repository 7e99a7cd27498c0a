/**
 * Runs the load-balancer configurations of docs/deployment.md as written: extracts the fenced
 * `nginx` and `haproxy` blocks, rewrites only what ties them to a machine (listen address,
 * node addresses, file paths, with every rewrite required to match), and starts the real
 * `nginx` and `haproxy` binaries on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { delimiter, join } from 'node:path';
import { waitFor } from '../helpers.js';

/** The repository root (this file runs from <outDir>/test/deploy/). */
export const ROOT = new URL('../../../', import.meta.url);

export function deploymentDoc(): string {
  return readFileSync(new URL('docs/deployment.md', ROOT), 'utf8');
}

/** The bodies of the fenced code blocks whose info string is exactly `lang`. */
export function fencedBlocks(markdown: string, lang: string): string[] {
  const blocks: string[] = [];
  const re = /^```([^\n`]*)\n([\s\S]*?)^```\s*$/gm;
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) if (m[1]?.trim() === lang) blocks.push(m[2] ?? '');
  return blocks;
}

/** The one block of that language; the doc must have exactly one. */
export function theBlock(markdown: string, lang: string): string {
  const blocks = fencedBlocks(markdown, lang);
  assert.equal(blocks.length, 1, `docs/deployment.md has exactly one \`\`\`${lang} block`);
  return blocks[0] as string;
}

/**
 * A duration as nginx or HAProxy reads it. A bare number is seconds for nginx and milliseconds
 * for HAProxy.
 */
export function durationMs(value: string, bare: 's' | 'ms'): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value.trim());
  assert.ok(m, `a duration: ${value}`);
  const n = Number(m[1]);
  const unit = m[2] ?? bare;
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit] as number;
  return n * factor;
}

/** Every `name value;` directive of that name in an nginx configuration. */
export function nginxDirective(conf: string, name: string): string[] {
  const re = new RegExp(`^\\s*${name}\\s+([^;]+);`, 'gm');
  return [...conf.matchAll(re)].map((m) => (m[1] ?? '').trim());
}

/** Every `timeout <name> value` line in an HAProxy configuration. */
export function haproxyTimeout(conf: string, name: string): string[] {
  const re = new RegExp(`^\\s*timeout\\s+${name}\\s+(\\S+)`, 'gm');
  return [...conf.matchAll(re)].map((m) => m[1] ?? '');
}

/** Replaces every match of `re` (global) and requires exactly `count` of them. */
function replaceCounted(text: string, re: RegExp, count: number, what: string, by: (match: string, index: number) => string): string {
  let i = 0;
  const out = text.replace(re, (match) => by(match, i++));
  assert.equal(i, count, `the doc's block has ${count} × ${what} (found ${i}); the test rewrites it`);
  return out;
}

/** The doc's node placeholders: 10.0.0.11:8080, 10.0.0.12:8080, … in order. */
const NODE_PLACEHOLDER = /\b10\.0\.0\.1\d:8080\b/g;

export interface LbFiles {
  dir: string;
  port: number;
  /** Node ports, in the order of the doc's node lines. */
  nodes: number[];
  cert: Certificate;
  /** Replaces the idle timeouts (the values the heartbeat must stay under). */
  idleTimeout?: string;
}

/** The nginx block made to run here; only machine-bound values change. */
export function localizeNginx(block: string, o: LbFiles): string {
  let conf = block;
  conf = replaceCounted(conf, /^(\s*)listen 443 ssl;/gm, 1, '`listen 443 ssl;`', (m) => m.replace('listen 443 ssl;', `listen 127.0.0.1:${o.port} ssl;`));
  conf = replaceCounted(conf, NODE_PLACEHOLDER, o.nodes.length, 'a node address 10.0.0.1x:8080', (_m, i) => `127.0.0.1:${o.nodes[i]}`);
  conf = replaceCounted(conf, /\/run\/nginx\.pid/g, 1, 'the pid file', () => join(o.dir, 'nginx.pid'));
  conf = replaceCounted(conf, /\/var\/log\/nginx\//g, 2, 'a log path', () => `${o.dir}/`);
  conf = replaceCounted(conf, /\/etc\/ssl\/ofgw\/fullchain\.pem/g, 1, 'the certificate', () => o.cert.cert);
  conf = replaceCounted(conf, /\/etc\/ssl\/ofgw\/privkey\.pem/g, 1, 'the key', () => o.cert.key);
  // Debian's build keeps temporary files under /var/lib/nginx: keep ours in the test's folder.
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => {
      mkdirSync(join(o.dir, `${t}_temp`), { recursive: true });
      return `    ${t}_temp_path ${join(o.dir, `${t}_temp`)};`;
    })
    .join('\n');
  conf = replaceCounted(conf, /^http \{$/gm, 1, 'the http block', (m) => `${m}\n${temp}`);
  if (o.idleTimeout) {
    conf = replaceCounted(conf, /^(\s*proxy_(?:read|send)_timeout)\s+[^;]+;/gm, 2, 'an idle timeout', (m) => m.replace(/\s+[^;\s]+;$/, ` ${o.idleTimeout};`));
  }
  return conf;
}

/** The HAProxy block made to run here; only machine-bound values change. */
export function localizeHaproxy(block: string, o: LbFiles): string {
  let conf = block;
  conf = replaceCounted(conf, /bind :443 ssl crt \/etc\/haproxy\/certs\/ofgw\.pem/g, 1, 'the bind line', () => `bind 127.0.0.1:${o.port} ssl crt ${o.cert.combined}`);
  conf = replaceCounted(conf, NODE_PLACEHOLDER, o.nodes.length, 'a node address 10.0.0.1x:8080', (_m, i) => `127.0.0.1:${o.nodes[i]}`);
  if (o.idleTimeout) {
    conf = replaceCounted(conf, /^(\s*timeout\s+tunnel)\s+\S+/gm, 1, 'timeout tunnel', (m) => m.replace(/\S+$/, o.idleTimeout as string));
  }
  return conf;
}

/** Where a binary is, looking in PATH and the sbin folders (nginx and haproxy live there). */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * `false` when the binary is installed (run the tests); a skip reason when it is not; throws
 * under CI=true, where .ci/run installs it and a skipped suite must not pass as green.
 */
export function binarySkip(name: string, pkg: string): string | false {
  if (findBinary(name)) return false;
  if (process.env.CI === 'true') throw new Error(`${name} is not installed (package ${pkg}), and CI=true requires it`);
  return `${name} is not installed (apt-get install ${pkg})`;
}

export interface Certificate {
  cert: string;
  key: string;
  /** Certificate then key, as HAProxy's `crt` takes them. */
  combined: string;
  pem: Buffer;
}

/** A throwaway self-signed certificate for 127.0.0.1, made with openssl. */
export function makeCertificate(dir: string): Certificate {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  if (!existsSync(cert)) {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
      { stdio: 'pipe', timeout: 20_000 },
    );
  }
  const pem = readFileSync(cert);
  const combined = join(dir, 'combined.pem');
  writeFileSync(combined, Buffer.concat([pem, readFileSync(key)]), { mode: 0o600 });
  return { cert, key, combined, pem };
}

/** A process the test started: its output, and a bounded stop. */
export class Proc {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private out = '';
  private done = false;

  constructor(
    readonly name: string,
    command: string,
    args: string[],
  ) {
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (c: Buffer) => (this.out += c.toString()));
    this.child.stderr?.on('data', (c: Buffer) => (this.out += c.toString()));
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code) => {
        this.done = true;
        resolve(code);
      });
      this.child.on('error', (err) => {
        this.out += `spawn error: ${err.message}\n`;
        this.done = true;
        resolve(null);
      });
    });
  }

  get output(): string {
    return this.out;
  }

  get running(): boolean {
    return !this.done;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone (bounded). */
  async stop(graceMs = 5000): Promise<void> {
    if (this.done) return;
    this.child.kill('SIGTERM');
    if (await settlesWithin(this.exited, graceMs)) return;
    this.child.kill('SIGKILL');
    await settlesWithin(this.exited, 2000);
  }
}

export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([p.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface HttpAnswer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One HTTPS GET to 127.0.0.1 trusting `ca`, bounded by `timeoutMs`. */
export function httpsGet(port: number, path: string, ca: Buffer, timeoutMs = 5000): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path, ca, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Waits until GET /healthz through the load balancer answers 200 (so it proxies to a node). */
export async function waitProxying(proc: Proc, port: number, ca: Buffer, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (let attempt = 0; attempt < 1000 && Date.now() < deadline; attempt++) {
    if (!proc.running) throw new Error(`${proc.name} exited early:\n${proc.output}`);
    try {
      const r = await httpsGet(port, '/healthz', ca, 1000);
      if (r.status === 200) return;
      last = `status ${r.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${proc.name} did not proxy /healthz within ${timeoutMs} ms (${last}):\n${proc.output}`);
}

/** Starts nginx in the foreground on a localized configuration. */
export async function startNginx(conf: string, dir: string, port: number, ca: Buffer): Promise<Proc> {
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  const bin = findBinary('nginx') as string;
  const proc = new Proc('nginx', bin, ['-e', join(dir, 'startup-error.log'), '-p', `${dir}/`, '-c', file, '-g', 'daemon off;']);
  try {
    await waitProxying(proc, port, ca);
  } catch (err) {
    await proc.stop();
    const log = existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '';
    throw new Error(`${(err as Error).message}\nerror.log:\n${log}`);
  }
  return proc;
}

/** Starts HAProxy in the foreground (-db) on a localized configuration. */
export async function startHaproxy(conf: string, dir: string, port: number, ca: Buffer): Promise<Proc> {
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, conf);
  const bin = findBinary('haproxy') as string;
  const proc = new Proc('haproxy', bin, ['-db', '-f', file]);
  try {
    await waitProxying(proc, port, ca);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return proc;
}

/** Lines of a node's JSON log with that message. */
export function logRecords(stdout: string, msg: string): Record<string, unknown>[] {
  const records: Record<string, unknown>[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.includes(`"msg":"${msg}"`)) continue;
    try {
      records.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a partial line still being written
    }
  }
  return records;
}

export { waitFor };
