/**
 * SSRF refusals (issue 15 points 2 and 7) with webhookAllowPrivateTargets off: plain http,
 * loopback, private, link-local, unspecified and IPv4-mapped addresses, a name resolving to
 * loopback (`localhost`, through the system resolver), a public name with one private address;
 * and, with private targets allowed, a redirect that is not followed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { refusedAddress, resolveTarget, TargetRefused } from '../../src/webhooks/target-policy.js';
import { sendWebhook } from '../../src/webhooks/sender.js';
import { signatureHeaders } from '../../src/webhooks/signing.js';
import { newWebhookSecret } from '../../src/store/webhooks.js';
import { startReceiver, type Receiver } from './receiver.js';

const headers = signatureHeaders('msg_ssrf', new Date(), '{}', [newWebhookSecret()]);

async function refused(url: string, pattern: RegExp, resolve?: (h: string) => Promise<Array<{ address: string; family: number }>>): Promise<void> {
  await assert.rejects(resolveTarget(url, false, resolve), (err: unknown) => {
    assert.ok(err instanceof TargetRefused, String(err));
    assert.match(err.message, pattern);
    return true;
  });
}

describe('webhook targets with private targets not allowed', () => {
  let receiver: Receiver;
  before(async () => {
    receiver = await startReceiver();
  });
  after(() => receiver.close());

  it('refuses plain http, and loopback, private, link-local and unspecified addresses', async () => {
    await refused('http://hooks.example.com/x', /must be https:\/\//);
    for (const host of ['127.0.0.1', '10.1.2.3', '172.16.0.9', '192.168.1.1', '169.254.169.254', '0.0.0.0', '100.64.0.1', '[::1]', '[fe80::1]', '[fd00::5]', '[::ffff:127.0.0.1]', '[::]']) {
      await refused(`https://${host}/hook`, /loopback, private, link-local or reserved/);
    }
  });

  it('refuses a name resolving to loopback, and a name with one private address among public ones', async () => {
    await refused('https://localhost/hook', /localhost resolves to .*(127\.0\.0\.1|::1) is a loopback/);
    const mixed = async () => [
      { address: '93.184.215.14', family: 4 },
      { address: '10.0.0.8', family: 4 },
    ];
    await refused('https://rebind.example.com/hook', /rebind\.example\.com resolves to 10\.0\.0\.8/, mixed);
    const ok = await resolveTarget('https://public.example.com/hook', false, async () => [{ address: '93.184.215.14', family: 4 }]);
    assert.deepEqual(ok.addresses, [{ address: '93.184.215.14', family: 4 }]);
  });

  it('classifies public addresses as allowed', () => {
    for (const address of ['93.184.215.14', '8.8.8.8', '2606:4700::1111']) assert.equal(refusedAddress(address), undefined, address);
  });

  it('a refused target is a failed attempt, and nothing is sent to it', async () => {
    const result = await sendWebhook(receiver.url, '{}', headers, { timeoutMs: 2000, allowPrivate: false });
    assert.equal(result.statusCode, null);
    assert.match(String(result.error), /must be https/);
    const https = await sendWebhook(`https://127.0.0.1:${receiver.port}/hooks`, '{}', headers, { timeoutMs: 2000, allowPrivate: false });
    assert.match(String(https.error), /127\.0\.0\.1 is a loopback/);
    assert.equal(receiver.requests.length, 0);
  });

  it('never follows a redirect: a 3xx fails the attempt and its target gets nothing', async () => {
    const target = await startReceiver('/internal');
    try {
      receiver.answer = () => ({ status: 302, headers: { location: target.url } });
      const result = await sendWebhook(receiver.url, '{}', headers, { timeoutMs: 2000, allowPrivate: true });
      assert.equal(result.statusCode, 302);
      assert.match(String(result.error), /redirects are not followed/);
      assert.equal(receiver.requests.length, 1);
      assert.equal(target.requests.length, 0);
    } finally {
      await target.close();
    }
  });
});
