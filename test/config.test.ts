/**
 * Configuration (issue 4, item 1): one schema fed by flags, environment and an optional JSON
 * file; an unknown or invalid setting stops with a message naming it; `ofgw config` prints
 * the effective configuration with secrets masked.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig, planLimits, SETTINGS } from '../src/config.js';
import { runCli } from './cli/cli-helpers.js';

describe('configuration', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ofgw-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function file(name: string, content: string): string {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  }

  it('defaults come from the one settings table', () => {
    const config = loadConfig();
    for (const [name, setting] of Object.entries(SETTINGS)) {
      const value = config[name as keyof typeof config];
      assert.deepEqual(typeof value === 'object' ? value : String(value), typeof setting.default === 'object' ? setting.default : String(setting.default), name);
    }
  });

  it('flags win over the environment, which wins over the file', () => {
    const path = file('layers.json', JSON.stringify({ port: 1111, heartbeatIntervalMs: 3000, logLevel: 'warn' }));
    const config = loadConfig({ port: 3333 }, { OFGW_PORT: '2222', OFGW_HEARTBEAT_INTERVAL_MS: '4000' }, path);
    assert.equal(config.port, 3333);
    assert.equal(config.heartbeatIntervalMs, 4000);
    assert.equal(config.logLevel, 'warn');
    assert.equal(loadConfig({}, { OFGW_CONFIG: path }).port, 1111, 'OFGW_CONFIG names the file');
  });

  it('plans come from the file or OFGW_PLANS, and fall back to the defaults', () => {
    const path = file('plans.json', JSON.stringify({ maxRelaysPerOrg: 10, plans: { pro: { maxRelaysPerOrg: 50, messagesPerSecond: 20 } } }));
    const config = loadConfig({}, {}, path);
    assert.equal(planLimits(config, 'pro').maxRelaysPerOrg, 50);
    assert.equal(planLimits(config, 'pro').messagesPerSecond, 20);
    assert.equal(planLimits(config, 'pro').keyConnectBurst, config.keyConnectBurst);
    assert.equal(planLimits(config, 'unknown').maxRelaysPerOrg, 10);
    assert.equal(planLimits(config, null).maxRelaysPerOrg, 10);
    assert.equal(planLimits(loadConfig({}, { OFGW_PLANS: '{"a":{"messageBurst":7}}' }), 'a').messageBurst, 7);
  });

  const bad: [string, () => unknown, RegExp][] = [
    ['an unknown setting in the file', () => loadConfig({}, {}, file('u.json', '{"prot": 80}')), /unknown setting "prot" in the config file/],
    ['a file that is not JSON', () => loadConfig({}, {}, file('j.json', '{port: 80')), /j\.json is not valid JSON: line 1, column 2: expected a property name in double quotes$/],
    ['a missing file', () => loadConfig({}, {}, join(dir, 'none.json')), /cannot read the config file .*none\.json \(ENOENT\)/],
    ['an invalid value in the file', () => loadConfig({}, {}, file('v.json', '{"port": "eighty"}')), /^port in the config file .*v\.json must be a number \(got "eighty"\)$/],
    ['an unknown plan field', () => loadConfig({}, {}, file('p.json', '{"plans": {"pro": {"maxRelays": 5}}}')), /^plans\.pro\.maxRelays in the config file .*p\.json is not a known field$/],
    ['plans that are not JSON', () => loadConfig({}, { OFGW_PLANS: 'pro=5' }), /^OFGW_PLANS must be a JSON object of plans/],
    ['an invalid environment value', () => loadConfig({}, { OFGW_MESSAGES_PER_SECOND: '-1' }), /^OFGW_MESSAGES_PER_SECOND must be more than 0 \(got "-1"\)$/],
    ['a short admin token', () => loadConfig({}, { OFGW_ADMIN_TOKEN: 'short' }), /^OFGW_ADMIN_TOKEN must be at least 32 characters/],
    ['a refresh URL without its secret', () => loadConfig({ credentialRefreshUrl: 'http://127.0.0.1:9/r' }), /^OFGW_CREDENTIAL_REFRESH_SECRET is required when --credential-refresh-url is set$/],
  ];
  for (const [what, load, message] of bad) {
    it(`stops on ${what}, naming it`, () => {
      assert.throws(load, (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }

  /** The message of the ConfigError `load` throws. */
  function naming(load: () => unknown): string {
    try {
      load();
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
    return assert.fail('the configuration loaded');
  }

  it('names each invalid setting as it was given: flag, variable or file key (it said "invalid port (from option port): … expected number, received NaN")', () => {
    assert.equal(naming(() => loadConfig({ port: 'abc' })), '--port must be a number (got "abc")');
    assert.equal(naming(() => loadConfig({}, { OFGW_PORT: 'abc' })), 'OFGW_PORT must be a number (got "abc")');
    assert.equal(naming(() => loadConfig({}, { OFGW_WORKERS: '1.5' })), 'OFGW_WORKERS must be a whole number (got "1.5")');
    assert.equal(naming(() => loadConfig({}, { OFGW_PRODUCTION: 'maybe' })), 'OFGW_PRODUCTION must be true or false (or 1/0, yes/no, on/off) (got "maybe")');
    const path = file('several.json', JSON.stringify({ port: 70000, plans: { pro: { messageBurst: 0 } } }));
    assert.equal(naming(() => loadConfig({}, {}, path)), `port in the config file ${path} must be at most 65535 (got 70000); plans.pro.messageBurst in the config file ${path} must be at least 1`);
    // Rules between settings name each one as given, defaults by the flag that would change them.
    assert.equal(naming(() => loadConfig({ lowWaterBytes: 999_999 })), '--low-water-bytes must be below --high-water-bytes (999999 >= 262144)');
    assert.match(naming(() => loadConfig({}, { OFGW_WORKERS: '2' })), /^OFGW_WORKERS 2 needs Redis: .* set --redis/);
    // A URL's password is masked; a secret is never shown.
    assert.equal(naming(() => loadConfig({}, { OFGW_REDIS: 'http://u:pw@h' })), 'OFGW_REDIS must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379');
    assert.ok(!naming(() => loadConfig({}, { OFGW_ADMIN_TOKEN: 'short-secret' })).includes('short-secret'));
  });

  it('a malformed config file: line and column, and nothing of the file quoted (it gave a position, or none, and quoted the text)', () => {
    const secret = 'a'.repeat(40);
    const path = file('broken.json', `{\n  "adminToken": "${secret}",\n  "port": 80,\n}\n`);
    assert.equal(naming(() => loadConfig({}, {}, path)), `the config file ${path} is not valid JSON: line 3, column 13: a "," before "}" (JSON allows no trailing comma)`);
    const unquoted = file('unquoted.json', `{\n  "adminToken": ${secret}\n}`);
    const message = naming(() => loadConfig({}, {}, unquoted));
    assert.equal(message, `the config file ${unquoted} is not valid JSON: line 2, column 17: expected a value (an object, array, string, number, true, false or null)`);
    assert.ok(!message.includes(secret));
    // A byte order mark from an editor is not an error.
    assert.equal(loadConfig({}, {}, file('bom.json', '\uFEFF{"port": 81}')).port, 81);
  });

  it('`ofgw config` prints the effective configuration with secrets masked', async () => {
    const token = 'a'.repeat(40);
    const path = file('cli.json', JSON.stringify({ port: 9191, credentialRefreshSecret: 'shh-very-secret', credentialRefreshUrl: 'http://127.0.0.1:9/r' }));
    const r = await runCli(['config', '--config', path, '--max-relays-per-org', '7', '--json'], { OFGW_ADMIN_TOKEN: token, OFGW_MASTER_KEY: '' });
    assert.equal(r.code, 0, r.stderr);
    const shown = r.json();
    assert.equal(shown.port, 9191);
    assert.equal(shown.maxRelaysPerOrg, 7);
    assert.equal(shown.adminToken, '***');
    assert.equal(shown.credentialRefreshSecret, '***');
    assert.ok(!r.stdout.includes(token) && !r.stdout.includes('shh-very-secret'));
    const human = await runCli(['config', '--port', 'x']);
    assert.equal(human.code, 2);
    assert.equal(human.stderr, 'ofgw: --port must be a number (got "x")\n');
    const flagSecret = await runCli(['config', '--admin-token', token]);
    assert.equal(flagSecret.code, 2, 'secrets have no flags');
  });
});
