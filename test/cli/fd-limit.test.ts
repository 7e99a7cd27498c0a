/**
 * The open-file limit (issue 13): at `ulimit -n 256` the gateway died with EMFILE while
 * loading its own modules. Now `ofgw` checks the limit before it loads anything, refuses
 * below the minimum saying what to raise and how many relays the limit would allow, and
 * `serve` warns when the limit leaves room for few relays.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FD_MINIMUM, FD_RECOMMENDED, fdLimit, fdLimitRefusal, relayCapacity } from '../../src/cli/fd-limit.js';
import { waitFor } from '../helpers.js';
import { OFGW } from './cli-helpers.js';

/** `ofgw ARGS` started by a shell that first sets `ulimit -n LIMIT` (soft and hard). */
function underLimit(limit: number, args: string[]) {
  const child = spawn('/bin/bash', ['-c', `ulimit -n ${limit} && exec "$0" "$@"`, process.execPath, OFGW, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stdout: () => out, stderr: () => err };
}

describe('the open-file limit', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ofgw-fd-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('at ulimit -n 256, serve refuses with what to raise and the relays it would allow, instead of dying with EMFILE', async () => {
    const run = underLimit(256, ['serve', '--port', '0', '--db', join(dir, 'low.db')]);
    assert.equal(await run.exited, 2, run.stderr());
    const stderr = run.stderr();
    assert.doesNotMatch(stderr, /EMFILE|at .*\.js:\d+/, 'no crash, no stack');
    assert.match(stderr, /^ofgw: the open-file limit \(ulimit -n\) is 256: ofgw needs at least 512 to start/);
    const relays = Number(/would hold only about (\d+) relays \(each relay uses two/.exec(stderr)?.[1]);
    assert.ok(relays > 80 && relays < 128, `about (256 − what a gateway holds) / 2 relays: ${relays}`);
    // The hard limit is 256 too, so only root can raise it; a service manager can.
    assert.match(stderr, /raise the hard limit \(256\) as root in \/etc\/security\/limits\.conf, LimitNOFILE=65536 in a systemd unit/);
    assert.equal(run.stdout(), '');
  });

  it('refuses the other commands too (they load the same modules), in JSON with --json', async () => {
    const run = underLimit(256, ['org', 'list', '--json', '--db', join(dir, 'low.db')]);
    assert.equal(await run.exited, 2);
    const error = JSON.parse(run.stderr()) as { error: string; code: string };
    assert.equal(error.code, 'FD_LIMIT');
    assert.match(error.error, /the open-file limit \(ulimit -n\) is 256: ofgw needs at least 512/);
    assert.doesNotMatch(error.error, /relays/, 'relays only matter to serve');
  });

  it('at ulimit -n 1024, serve starts, and warns with the relay capacity in the listening line', async () => {
    const run = underLimit(1024, ['serve', '--port', '0', '--production', '--db', join(dir, 'some.db')]);
    try {
      await waitFor(() => run.stdout().includes('"gateway listening"') || run.child.exitCode !== null, 20_000, 'the gateway to listen');
      const lines = run.stdout().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      const listening = lines.find((l) => l.msg === 'gateway listening');
      assert.ok(listening, run.stdout() + run.stderr());
      assert.deepEqual(listening.fdLimit, { soft: 1024, hard: 1024 });
      const capacity = listening.relayCapacity as number;
      assert.ok(capacity > 480 && capacity < 512, `(1024 − open descriptors) / 2: ${capacity}`);
      const warning = lines.find((l) => l.level === 40);
      assert.equal(warning?.msg, `the open-file limit 1024 (ulimit -n) allows only about ${capacity} relays in this process`);
      assert.match(String(warning?.raise), /raise the hard limit \(1024\) as root .*LimitNOFILE=65536/);
    } finally {
      run.child.kill('SIGTERM');
      assert.equal(await run.exited, 0, run.stderr());
    }
  });

  it('reads the limit from /proc, else from the shell, and counts two descriptors a relay', () => {
    const limits = join(dir, 'limits');
    writeFileSync(limits, 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n');
    assert.deepEqual(fdLimit(limits), { soft: 1024, hard: 524288 });
    // Without the file (macOS), the shell's `ulimit`, inherited from this process.
    assert.deepEqual(fdLimit(join(dir, 'no-such-file')), fdLimit());
    assert.equal(relayCapacity(1024, 24), 500);
    assert.equal(relayCapacity(20, 24), 0);
    assert.equal(relayCapacity('unlimited', 24), undefined);
    assert.equal(fdLimitRefusal({ soft: FD_MINIMUM, hard: FD_MINIMUM }, true), undefined, 'the minimum itself starts');
    assert.equal(fdLimitRefusal(undefined, true), undefined, 'an unknown limit is not refused');
    assert.ok(FD_RECOMMENDED > FD_MINIMUM);
    // What to run depends on how far an unprivileged `ulimit -n` can go.
    assert.match(fdLimitRefusal({ soft: 256, hard: 1048576 }, false) ?? '', /Raise it: `ulimit -n 65536` in the shell that starts it/);
    assert.match(fdLimitRefusal({ soft: 256, hard: 4096 }, false) ?? '', /Raise it: `ulimit -n 4096` in the shell that starts it \(its hard limit/);
  });
});
