/**
 * The process's open-file limit (RLIMIT_NOFILE, what `ulimit -n` shows) and what it allows.
 * Every relay holds two descriptors, the client's socket and the OnlyFans one, so a process
 * serves at most about (soft limit − descriptors already open) / 2 relays; past that, accepting
 * and connecting fail with EMFILE.
 *
 * Only node built-ins here: the `ofgw` entry (./bin.ts) checks the limit before it loads the
 * rest, because loading the module graph alone opens a few hundred files at once.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Below this soft limit nothing starts: loading the modules would already fail with EMFILE (about 300 are read at once). */
export const FD_MINIMUM = 512;
/** Below this, `ofgw serve` warns at start: fewer than about 2,000 relays fit in the process. */
export const FD_RECOMMENDED = 4096;
/** What the messages suggest raising the limit to. */
export const FD_SUGGESTED = 65536;
/** Descriptors a started gateway holds besides relays (listener, store, Redis, simulator, pool), for estimates made before it starts. */
const GATEWAY_RESERVE = 32;

export interface FdLimit {
  soft: number | 'unlimited';
  hard: number | 'unlimited';
}

/**
 * This process's open-file limit: from `limitsFile` (Linux's /proc/self/limits), else from
 * the shell's `ulimit` (macOS, the BSDs; a child inherits our limits); undefined where
 * neither answers (Windows).
 */
export function fdLimit(limitsFile = '/proc/self/limits'): FdLimit | undefined {
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(limitsFile, 'utf8'));
    return m ? { soft: limitValue(m[1] ?? ''), hard: limitValue(m[2] ?? '') } : undefined;
  } catch {
    // No /proc: ask a shell.
  }
  try {
    const [soft = '', hard = ''] = execFileSync('/bin/sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8', timeout: 2000 }).trim().split(/\s+/);
    const limit = { soft: limitValue(soft), hard: limitValue(hard) };
    return Number.isNaN(limit.soft) || Number.isNaN(limit.hard) ? undefined : limit;
  } catch {
    return undefined;
  }
}

function limitValue(v: string): number | 'unlimited' {
  return v === 'unlimited' ? 'unlimited' : Number(v);
}

/** Descriptors open in this process now, or undefined where that cannot be listed. */
export function openDescriptors(): number | undefined {
  for (const dir of ['/proc/self/fd', '/dev/fd']) {
    try {
      // The listing itself holds one while it runs.
      return readdirSync(dir).length - 1;
    } catch {
      // try the next
    }
  }
  return undefined;
}

/** About how many relays fit under `soft` with `open` descriptors taken; undefined when unlimited. */
export function relayCapacity(soft: number | 'unlimited', open: number): number | undefined {
  return soft === 'unlimited' ? undefined : Math.max(0, Math.floor((soft - open) / 2));
}

/** The same for a gateway not started yet: what it will hold itself is estimated. */
export function relayCapacityBeforeStart(soft: number | 'unlimited'): number | undefined {
  return relayCapacity(soft, (openDescriptors() ?? 0) + GATEWAY_RESERVE);
}

/** How to raise the limit, given the hard limit that an unprivileged `ulimit -n` can reach. */
export function raiseAdvice(limit: FdLimit): string {
  const hard = limit.hard === 'unlimited' ? Infinity : limit.hard;
  const soft = limit.soft === 'unlimited' ? Infinity : limit.soft;
  const shell =
    hard >= FD_SUGGESTED
      ? `\`ulimit -n ${FD_SUGGESTED}\` in the shell that starts it`
      : hard > soft
        ? `\`ulimit -n ${hard}\` in the shell that starts it (its hard limit; above that needs root: /etc/security/limits.conf)`
        : `raise the hard limit (${hard}) as root in /etc/security/limits.conf`;
  return `${shell}, LimitNOFILE=${FD_SUGGESTED} in a systemd unit, or \`docker run --ulimit nofile=${FD_SUGGESTED}:${FD_SUGGESTED}\``;
}

/**
 * The refusal `ofgw` prints instead of starting below {@link FD_MINIMUM}; undefined when the
 * limit is enough or unknown. `serving`: the command is `serve`, so the relays it would hold
 * are worth saying.
 */
export function fdLimitRefusal(limit: FdLimit | undefined, serving: boolean): string | undefined {
  if (limit === undefined || limit.soft === 'unlimited' || limit.soft >= FD_MINIMUM) return undefined;
  const relays = serving ? `, and a gateway under it would hold only about ${relayCapacityBeforeStart(limit.soft)} relays (each relay uses two: the client's socket and the OnlyFans one)` : '';
  return (
    `the open-file limit (ulimit -n) is ${limit.soft}: ofgw needs at least ${FD_MINIMUM} to start (loading its modules opens about 300 files at once)${relays}. ` +
    `Raise it: ${raiseAdvice(limit)}`
  );
}
