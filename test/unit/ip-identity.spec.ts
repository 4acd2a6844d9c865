import { describe, expect, it } from '@jest/globals';
import { ipIdentity } from '../../src/common/principal.js';

describe('ipIdentity', () => {
  it('keeps IPv4 addresses as they are', () => {
    expect(ipIdentity('203.0.113.7', 64)).toBe('203.0.113.7');
  });

  it('counts an IPv6 address by its /64, whatever its interface part', () => {
    expect(ipIdentity('2001:db8:1:2:aaaa:bbbb:cccc:dddd', 64)).toBe('2001:db8:1:2::/64');
    expect(ipIdentity('2001:db8:1:2::1', 64)).toBe('2001:db8:1:2::/64');
    expect(ipIdentity('2001:0db8:0001:0002:ffff::', 64)).toBe('2001:db8:1:2::/64');
    expect(ipIdentity('::1', 64)).toBe('::/64');
    expect(ipIdentity('fe80::1%eth0', 64)).toBe('fe80::/64');
  });

  it('honours other prefix lengths, including ones inside a group', () => {
    expect(ipIdentity('2001:db8:1:2:3:4:5:6', 48)).toBe('2001:db8:1::/48');
    expect(ipIdentity('2001:db8:1:2:3:4:5:6', 56)).toBe('2001:db8:1::/56');
    expect(ipIdentity('2001:db8:1:2ff:3:4:5:6', 56)).toBe('2001:db8:1:200::/56');
    expect(ipIdentity('2001:db8:1:2:3:4:5:6', 128)).toBe('2001:db8:1:2:3:4:5:6/128');
  });

  it('reads an embedded dotted IPv4 tail', () => {
    expect(ipIdentity('64:ff9b::192.0.2.33', 96)).toBe('64:ff9b::/96');
    expect(ipIdentity('64:ff9b::192.0.2.33', 128)).toBe('64:ff9b::c000:221/128');
  });
});
