import { describe, expect, it } from '@jest/globals';
import type { LookupAddress } from 'node:dns';
import { Webhook } from 'standardwebhooks';
import {
  forbiddenAddressReason,
  ForbiddenWebhookTarget,
  parseWebhookUrl,
  resolveWebhookHost,
  WEBHOOK_URL_MAX_LENGTH,
} from '../../src/webhooks/webhook-address.guard.js';
import { newWebhookSecret, signWebhook } from '../../src/webhooks/webhook-signature.js';

describe('webhook signatures', () => {
  it('makes secrets of whsec_ and the base64 of 32 random bytes, a new one each time', () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    expect(newWebhookSecret()).not.toBe(secret);
  });

  it('signs as Standard Webhooks do: the reference implementation verifies it, and refuses a changed body, id or secret', () => {
    const secret = newWebhookSecret();
    const body = JSON.stringify({ type: 'change', timestamp: '2026-12-06T20:00:00.000Z', data: { seq: 1, text: 'é ✓' } });
    const now = Math.floor(Date.now() / 1000);
    const headers = signWebhook(secret, 'msg_2f6b1c0e', now, body);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(body.replace('é', 'e'), { ...headers })).toThrow();
    expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'msg_other' })).toThrow();
    expect(() => new Webhook(newWebhookSecret()).verify(body, { ...headers })).toThrow();
  });
});

describe('webhook targets', () => {
  it('refuses loopback, private, CGNAT, link-local, metadata, unspecified and multicast addresses, however written', () => {
    for (const address of [
      '127.0.0.1',
      '127.8.9.10',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '100.64.0.1',
      '169.254.169.254',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      'fd00:ec2::254',
      'fc00::1',
      'fe80::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:a9fe:a9fe',
      '64:ff9b::10.0.0.1',
      '::127.0.0.1',
      '::7f00:1',
      '::a9fe:a9fe',
      '64:ff9b::7f00:1',
      '64:ff9b:1::a00:1',
      '2002:7f00:1::1',
      '2002:a9fe:a9fe::1',
      '2002:c0a8:101::1',
      '2001::1',
      '2001:db8::1',
      '100::1',
      'fec0::1',
      '198.18.0.1',
      '192.0.2.1',
    ]) {
      expect({ address, reason: forbiddenAddressReason(address) }).toEqual({ address, reason: expect.any(String) });
    }
  });

  it('accepts public unicast addresses', () => {
    for (const address of [
      '93.184.215.14',
      '8.8.8.8',
      '172.32.0.1',
      '100.128.0.1',
      '2606:4700:4700::1111',
      '::ffff:8.8.8.8',
      '64:ff9b::808:808',
      '2002:808:808::1',
    ]) {
      expect({ address, reason: forbiddenAddressReason(address) }).toEqual({ address, reason: null });
    }
  });

  it('takes http(s) URLs without credentials, of a bounded length', () => {
    expect(parseWebhookUrl('https://hooks.example.com/tessera?x=1').hostname).toBe('hooks.example.com');
    for (const bad of [
      'ftp://example.com/',
      'file:///etc/passwd',
      'gopher://example.com',
      'javascript:alert(1)',
      'https://user:pass@example.com/',
      'not a url',
      `https://example.com/${'a'.repeat(WEBHOOK_URL_MAX_LENGTH)}`,
    ]) {
      expect(() => parseWebhookUrl(bad)).toThrow(ForbiddenWebhookTarget);
    }
  });

  it('refuses a host when any address it resolves to is forbidden, unless private targets are allowed', async () => {
    const answers: Record<string, LookupAddress[]> = {
      'public.test': [{ address: '93.184.215.14', family: 4 }],
      'mixed.test': [
        { address: '93.184.215.14', family: 4 },
        { address: '10.0.0.5', family: 4 },
      ],
      'metadata.test': [{ address: '169.254.169.254', family: 4 }],
    };
    const resolve = (host: string) => (answers[host] ? Promise.resolve(answers[host]) : Promise.reject(new Error('ENOTFOUND')));
    await expect(resolveWebhookHost('public.test', false, resolve)).resolves.toEqual(answers['public.test']);
    await expect(resolveWebhookHost('mixed.test', false, resolve)).rejects.toThrow('resolves to 10.0.0.5');
    await expect(resolveWebhookHost('metadata.test', false, resolve)).rejects.toThrow(ForbiddenWebhookTarget);
    await expect(resolveWebhookHost('[::1]', false, resolve)).rejects.toThrow(ForbiddenWebhookTarget);
    // How a URL parser writes http://[::127.0.0.1]/: an IPv4-compatible address, refused for the loopback it carries.
    const compatible = parseWebhookUrl('http://[::127.0.0.1]/').hostname;
    expect(compatible).toBe('[::7f00:1]');
    await expect(resolveWebhookHost(compatible, false, resolve)).rejects.toThrow(ForbiddenWebhookTarget);
    await expect(resolveWebhookHost('nowhere.test', false, resolve)).rejects.toThrow('does not resolve');
    await expect(resolveWebhookHost('mixed.test', true, resolve)).resolves.toHaveLength(2);
  });
});
