/**
 * The settings' flags as `ofgw serve` and `ofgw config` take them and `ofgw --help` lists them
 * (issue 13 item 11: the help's serve line was written by hand and omitted --redis, --workers
 * and --redis-prefix).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { flagOf, SETTINGS } from '../../src/config.js';
import { SETTINGS_OPTIONS } from '../../src/cli/settings-flags.js';
import { runCli } from './cli-helpers.js';

const flagged = Object.entries(SETTINGS).filter(([, s]) => !('secret' in s && s.secret)).map(([name]) => flagOf(name));

describe('settings flags', () => {
  it('ofgw --help lists every serve flag there is (it omitted --redis, --workers and --redis-prefix)', async () => {
    const help = await runCli(['--help']);
    assert.equal(help.code, 0, help.stderr);
    const serve = help.stdout.slice(help.stdout.indexOf('\n  serve '), help.stdout.indexOf('\n  config '));
    const listed = new Set(serve.match(/--[a-z][a-z-]*/g));
    for (const flag of ['--redis', '--workers', '--redis-prefix', ...flagged, '--config']) assert.ok(listed.has(flag), `ofgw --help lists ${flag}`);
    // …and only flags serve accepts (--db is every command's own option).
    const accepted = new Set([...Object.keys(SETTINGS_OPTIONS).map((o) => `--${o}`), '--db']);
    for (const flag of listed) assert.ok(accepted.has(flag), `${flag} is listed but serve does not take it`);
  });

  it('every listed flag is taken by ofgw config, booleans without a value', async () => {
    const r = await runCli(['config', '--json', '--redis', 'redis://127.0.0.1:6379', '--workers', '2', '--redis-prefix', 'x:', '--trust-forwarded-for', '--production']);
    assert.equal(r.code, 0, r.stderr);
    const shown = r.json();
    assert.deepEqual([shown.redis, shown.workers, shown.redisPrefix, shown.trustForwardedFor, shown.production], ['redis://127.0.0.1:6379', 2, 'x:', true, true]);
  });
});
