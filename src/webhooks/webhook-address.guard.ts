import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
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

const REFUSED = 'is a loopback, private, link-local, metadata, multicast or otherwise special address';

/** The NAT64 prefix whose last 32 bits are an IPv4 address (RFC 6052). */
const NAT64_WELL_KNOWN = ipaddr.parseCIDR('64:ff9b::/96') as [ipaddr.IPv6, number];
/** The deprecated IPv4-compatible addresses `::a.b.c.d` (RFC 4291), which WHATWG URLs write as `[::7f00:1]`. */
const IPV4_COMPATIBLE = ipaddr.parseCIDR('::/96') as [ipaddr.IPv6, number];

/**
 * The IPv4 address an IPv6 one carries and leads to: IPv4-mapped `::ffff:a.b.c.d`,
 * IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96` and 6to4 `2002:AABB:CCDD::/16`; else null.
 */
function embeddedIpv4(address: ipaddr.IPv6): ipaddr.IPv4 | null {
  if (address.isIPv4MappedAddress()) return address.toIPv4Address();
  const bytes = address.toByteArray();
  if (address.match(NAT64_WELL_KNOWN) || address.match(IPV4_COMPATIBLE)) return ipaddr.fromByteArray(bytes.slice(12)) as ipaddr.IPv4;
  if (address.range() === '6to4') return ipaddr.fromByteArray(bytes.slice(2, 6)) as ipaddr.IPv4;
  return null;
}

/**
 * Why `address` is no place for a webhook to go, or null when it is a public unicast address.
 * The ranges are ipaddr.js's (the IANA special-purpose registries): anything it does not call
 * `unicast` is refused (loopback, RFC 1918 private, carrier-grade NAT, link-local with the
 * 169.254.169.254 metadata service, unique-local with fd00:ec2::254, unspecified, broadcast,
 * multicast, documentation, benchmarking, reserved, Teredo, the local-use NAT64 prefix
 * 64:ff9b:1::/48), and an IPv6 address that carries an IPv4 one is judged by that one.
 */
export function forbiddenAddressReason(address: string): string | null {
  if (isIP(address) === 0 || !ipaddr.isValid(address)) return 'is not an IP address';
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6') {
    const v4 = embeddedIpv4(parsed as ipaddr.IPv6);
    if (v4 !== null) return v4.range() === 'unicast' ? null : REFUSED;
  }
  return parsed.range() === 'unicast' ? null : REFUSED;
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
