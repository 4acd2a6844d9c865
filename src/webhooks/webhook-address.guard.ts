import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';

/** Why a webhook URL or one of its addresses is refused (never the raw resolver error: it is shown to the caller). */
export class ForbiddenWebhookTarget extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'ForbiddenWebhookTarget';
  }
}

/** The longest webhook URL accepted. */
export const WEBHOOK_URL_MAX_LENGTH = 2048;

/**
 * Addresses a webhook must never reach: this host and its network's, the cloud metadata
 * services, and anything that is not one unicast host on the internet.
 */
const FORBIDDEN = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, 169.254.169.254 metadata
  ['172.16.0.0', 12], // RFC 1918
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16], // RFC 1918
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  FORBIDDEN.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['fc00::', 7], // unique local, fd00:ec2::254 metadata
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
  ['2001:db8::', 32], // documentation
  ['100::', 64], // discard
] as const) {
  FORBIDDEN.addSubnet(network, prefix, 'ipv6');
}

/** The IPv4 address an IPv6 one carries (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, compatible `::a.b.c.d`), if any. */
function embeddedIpv4(address: string): string | null {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|64:ff9b::|::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (!hex) return null;
  const [high, low] = [parseInt(hex[1], 16), parseInt(hex[2], 16)];
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** Why `address` is no place for a webhook to go, or null when it is a public unicast address. */
export function forbiddenAddressReason(address: string): string | null {
  const family = isIP(address);
  if (family === 0) return 'is not an IP address';
  if (family === 6) {
    const v4 = embeddedIpv4(address);
    if (v4 !== null) return forbiddenAddressReason(v4);
    return FORBIDDEN.check(address, 'ipv6') ? 'is a loopback, private, link-local, metadata or multicast address' : null;
  }
  return FORBIDDEN.check(address, 'ipv4') ? 'is a loopback, private, link-local, metadata or multicast address' : null;
}

/** The URL if it may be a webhook's: http(s), a host, no credentials, at most WEBHOOK_URL_MAX_LENGTH characters. */
export function parseWebhookUrl(text: string): URL {
  if (text.length > WEBHOOK_URL_MAX_LENGTH) throw new ForbiddenWebhookTarget(`is longer than ${WEBHOOK_URL_MAX_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ForbiddenWebhookTarget('is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ForbiddenWebhookTarget('must be http or https');
  if (url.username || url.password) throw new ForbiddenWebhookTarget('must not carry credentials');
  if (!url.hostname) throw new ForbiddenWebhookTarget('has no host');
  return url;
}

type Resolve = (host: string) => Promise<LookupAddress[]>;

const resolveAll: Resolve = (host) =>
  new Promise((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
  );

/**
 * Every address `host` resolves to, refused when any of them is forbidden (a name that
 * resolves to a public and a private address could be steered to either). With
 * `allowPrivate` (WEBHOOK_ALLOW_PRIVATE) only the lookup itself must succeed.
 */
export async function resolveWebhookHost(host: string, allowPrivate: boolean, resolve: Resolve = resolveAll): Promise<LookupAddress[]> {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  let addresses: LookupAddress[];
  if (isIP(bare)) addresses = [{ address: bare, family: isIP(bare) }];
  else {
    try {
      addresses = await resolve(bare);
    } catch {
      throw new ForbiddenWebhookTarget('has a host that does not resolve');
    }
  }
  if (addresses.length === 0) throw new ForbiddenWebhookTarget('has a host that does not resolve');
  if (!allowPrivate) {
    for (const { address } of addresses) {
      const reason = forbiddenAddressReason(address);
      if (reason) throw new ForbiddenWebhookTarget(`resolves to ${address}, which ${reason}`);
    }
  }
  return addresses;
}

/**
 * A `lookup` for an HTTP agent's connections: the host is resolved and checked at the moment
 * of connecting, and the connection goes to the address that was checked, so a name that
 * changes its answer after the check (DNS rebinding) cannot lead a delivery inside.
 */
export function guardedLookup(allowPrivate: boolean, resolve: Resolve = resolveAll) {
  return (
    hostname: string,
    options: { all?: boolean } | number,
    callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    resolveWebhookHost(hostname, allowPrivate, resolve).then(
      (addresses) => {
        if (typeof options === 'object' && options.all) callback(null, addresses);
        else callback(null, addresses[0].address, addresses[0].family);
      },
      (error: Error) => callback(Object.assign(error, { code: 'EWEBHOOKFORBIDDEN' }), '', 0),
    );
  };
}
