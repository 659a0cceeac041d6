// mDNS interfaces: which IPv4 interfaces mDNS runs on (pure selection over the OS's
// interface list and Linux interface flags), whether an address lies on one of an
// interface's subnets, and the local-link rule for responses (RFC 6762 §11). Reads
// /sys and /proc for flags; never opens a socket.
import type { NetworkInterfaceInfo } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';

/** Linux interface flags (include/uapi/linux/if.h). */
const IFF_UP = 0x1;
const IFF_MULTICAST = 0x1000;

/** One IPv4 interface mDNS runs on. */
export interface MdnsInterface {
  /** OS name, e.g. "eth0" (aliases like "eth0:1" are merged into it). */
  name: string;
  /** The address used to join the group and to pick the outgoing interface. */
  address: string;
  /** Every IPv4 address of the interface (A records) with its netmask (subnet matching). */
  addresses: { address: string; netmask: string }[];
}

/** Result of selectMdnsInterfaces: the interfaces to use and what to tell the user. */
export interface MdnsInterfaceSelection {
  chosen: MdnsInterface[];
  /** Lines to log at warn level. */
  warnings: string[];
}

interface Candidate extends MdnsInterface {
  internal: boolean;
  flags: number | undefined;
}

/**
 * Choose the interfaces mDNS runs on. With `wanted` (an IPv4 address), only the interface
 * holding it. Otherwise every interface with an IPv4 address whose flags have UP and
 * MULTICAST; where flags are unknown (flagsOf returns undefined), every non-internal one,
 * and when that leaves nothing, the internal ones (a namespace with only loopback).
 */
export function selectMdnsInterfaces(
  ifaces: NodeJS.Dict<NetworkInterfaceInfo[]>,
  flagsOf: (name: string) => number | undefined,
  wanted?: string,
): MdnsInterfaceSelection {
  const byName = new Map<string, Candidate>();
  for (const [rawName, infos] of Object.entries(ifaces)) {
    const name = rawName.split(':')[0] ?? rawName;
    for (const info of infos ?? []) {
      if (info.family !== 'IPv4' && (info.family as unknown) !== 4) continue;
      let c = byName.get(name);
      if (!c) {
        c = { name, address: info.address, addresses: [], internal: info.internal, flags: flagsOf(name) };
        byName.set(name, c);
      }
      if (!c.addresses.some((a) => a.address === info.address)) c.addresses.push({ address: info.address, netmask: info.netmask });
    }
  }
  const all = [...byName.values()];
  const strip = (c: Candidate): MdnsInterface => ({ name: c.name, address: c.address, addresses: c.addresses });
  const seedHint = 'mDNS waits until one comes up; --seed still works';
  if (wanted !== undefined) {
    const c = all.find((x) => x.addresses.some((a) => a.address === wanted));
    if (!c) {
      const have = all.map((x) => `${x.name} ${x.addresses.map((a) => a.address).join(',')}`).join('; ') || 'none';
      return { chosen: [], warnings: [`no local interface has the address ${wanted} given as --interface (IPv4 interfaces: ${have}); ${seedHint}`] };
    }
    const warnings: string[] = [];
    if (c.flags !== undefined && (c.flags & (IFF_UP | IFF_MULTICAST)) !== (IFF_UP | IFF_MULTICAST)) {
      warnings.push(`interface ${c.name} (${wanted}) is ${c.flags & IFF_UP ? 'not multicast-capable' : 'down'}; trying mDNS on it anyway`);
    }
    return { chosen: [{ ...strip(c), address: wanted }], warnings };
  }
  const capable = (c: Candidate): boolean =>
    c.flags !== undefined ? (c.flags & (IFF_UP | IFF_MULTICAST)) === (IFF_UP | IFF_MULTICAST) : !c.internal;
  let chosen = all.filter(capable);
  if (chosen.length === 0) chosen = all.filter((c) => c.flags === undefined && c.internal);
  if (chosen.length === 0) {
    return { chosen: [], warnings: [`no multicast-capable IPv4 interface (found: ${all.map((c) => c.name).join(', ') || 'none'}); ${seedHint}`] };
  }
  return { chosen: chosen.map(strip), warnings: [] };
}

/**
 * Interface flags from /sys/class/net/<name>/flags, or undefined where unknown. Returns an
 * always-undefined reader when /sys lists other interfaces than /proc/self/net/dev: /sys
 * then belongs to another network namespace (e.g. `unshare -n` without remounting /sys).
 */
export function sysfsInterfaceFlags(): (name: string) => number | undefined {
  const unknown = (): undefined => undefined;
  try {
    const sys = readdirSync('/sys/class/net').filter((n) => n !== 'bonding_masters');
    const proc = readFileSync('/proc/self/net/dev', 'utf8')
      .split('\n')
      .slice(2)
      .map((l) => l.split(':')[0]?.trim() ?? '')
      .filter((n) => n.length > 0);
    if (sys.length !== proc.length || !proc.every((n) => sys.includes(n))) return unknown;
  } catch {
    return unknown;
  }
  return (name) => {
    if (!/^[A-Za-z0-9_.@-]+$/.test(name) || name === '.' || name === '..') return undefined;
    try {
      const v = parseInt(readFileSync(`/sys/class/net/${name}/flags`, 'utf8').trim(), 16);
      return Number.isFinite(v) ? v : undefined;
    } catch {
      return undefined;
    }
  };
}

/** A dotted IPv4 address as a 32-bit number, or undefined when it is not one. */
export function ipv4ToInt(ip: string): number | undefined {
  // A character loop, no regex or split: every received mDNS packet runs this for each
  // address of each known peer against each interface address.
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return undefined;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
      continue;
    }
    if (c < 48 || c > 57 || digits === 3) return undefined;
    part = part * 10 + (c - 48);
    digits++;
    if (part > 255) return undefined;
  }
  if (dots !== 3 || digits === 0) return undefined;
  return n * 256 + part;
}

/** True if ip lies in one of the interface's subnets. */
export function onInterfaceSubnet(iface: MdnsInterface, ip: string): boolean {
  const x = ipv4ToInt(ip);
  if (x === undefined) return false;
  return iface.addresses.some((a) => {
    const addr = ipv4ToInt(a.address);
    const mask = ipv4ToInt(a.netmask);
    return addr !== undefined && mask !== undefined && (addr & mask) >>> 0 === (x & mask) >>> 0;
  });
}

/**
 * Where the source address of a received mDNS packet lies, seen from the endpoint whose
 * socket got it: on that endpoint's own link (one of its interface's subnets), on the
 * link of another of our endpoints (Linux hands every packet to every socket bound to
 * port 5353, so that endpoint's copy is the one to act on), or on none of our links.
 */
export type SourceLink = 'this-link' | 'other-link' | 'off-link';

/**
 * The local-link rule for responses (RFC 6762 §11): a response, multicast or unicast,
 * is acted on only by the endpoint whose interface subnet holds its source address,
 * and one from an address on none of our interfaces' subnets is off-link and dropped.
 * (The RFC's other test, IP TTL 255, is not possible: Node cannot read a datagram's TTL.)
 */
export function classifySource(arrivedOn: MdnsInterface, others: readonly MdnsInterface[], src: string): SourceLink {
  if (onInterfaceSubnet(arrivedOn, src)) return 'this-link';
  return others.some((o) => o !== arrivedOn && onInterfaceSubnet(o, src)) ? 'other-link' : 'off-link';
}
