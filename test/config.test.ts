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
    ['a file that is not JSON', () => loadConfig({}, {}, file('j.json', '{port: 80')), /is not valid JSON/],
    ['a missing file', () => loadConfig({}, {}, join(dir, 'none.json')), /cannot read the config file .*none\.json \(ENOENT\)/],
    ['an invalid value in the file', () => loadConfig({}, {}, file('v.json', '{"port": "eighty"}')), /invalid port \(from config file .*v\.json\)/],
    ['an unknown plan field', () => loadConfig({}, {}, file('p.json', '{"plans": {"pro": {"maxRelays": 5}}}')), /invalid plans at pro \(from config file/],
    ['plans that are not JSON', () => loadConfig({}, { OFGW_PLANS: 'pro=5' }), /invalid plans \(from environment variable OFGW_PLANS\)/],
    ['an invalid environment value', () => loadConfig({}, { OFGW_MESSAGES_PER_SECOND: '-1' }), /invalid messagesPerSecond \(from environment variable OFGW_MESSAGES_PER_SECOND\)/],
    ['a short admin token', () => loadConfig({}, { OFGW_ADMIN_TOKEN: 'short' }), /invalid adminToken: must be at least 32 characters/],
    ['a refresh URL without its secret', () => loadConfig({ credentialRefreshUrl: 'http://127.0.0.1:9/r' }), /invalid credentialRefreshSecret/],
  ];
  for (const [what, load, message] of bad) {
    it(`stops on ${what}, naming it`, () => {
      assert.throws(load, (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }

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
    assert.match(human.stderr, /invalid port \(from option port\)/);
    const flagSecret = await runCli(['config', '--admin-token', token]);
    assert.equal(flagSecret.code, 2, 'secrets have no flags');
  });
});
