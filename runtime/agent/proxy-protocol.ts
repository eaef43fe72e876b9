import * as net from "node:net";
import { PROXY_V2_MAX_HEADER_BYTES } from "./contract";

/**
 * PROXY protocol version 2 (haproxy doc/proxy-protocol.txt, section 2.2), the binary header
 * an AWS Network Load Balancer puts in front of every connection to a target group with
 * `proxy_protocol_v2` on. Only version 2 is accepted (the NLB never sends v1's text line).
 *
 *   bytes 0-11   signature  0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A
 *   byte 12      version (high nibble, 2) and command (low nibble: 0 LOCAL, 1 PROXY)
 *   byte 13      address family (high: 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX) and transport (low: 1 STREAM)
 *   bytes 14-15  length of what follows, big-endian: the addresses, then TLVs
 *   INET:  src addr (4), dst addr (4), src port (2), dst port (2)
 *   INET6: src addr (16), dst addr (16), src port (2), dst port (2)
 *   TLVs:  type (1), length (2, big-endian), value
 *
 * The parser is incremental (the header may arrive in pieces), decides as early as the bytes
 * allow (a wrong first byte is rejected at once, not at a deadline), never reads past the
 * declared length, and never throws on any input: every outcome is a typed value.
 */

/** The 12 bytes every v2 header starts with. */
export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** Signature, version/command, family/transport and the length field. */
export const PROXY_V2_FIXED_BYTES = 16;

/** TLV types from the spec that the agent names in logs; every other type is skipped. */
export const PP2_TYPE = Object.freeze({
  ALPN: 0x01,
  AUTHORITY: 0x02,
  CRC32C: 0x03,
  NOOP: 0x04,
  UNIQUE_ID: 0x05,
  SSL: 0x20,
  NETNS: 0x30,
  /** AWS: subtype 0x01 carries the VPC endpoint id of a PrivateLink client. */
  AWS: 0xea,
});
/** The AWS TLV's subtype for the VPC endpoint id. */
export const PP2_SUBTYPE_AWS_VPCE_ID = 0x01;

export interface ProxyAddress {
  /** Printed as Node prints socket addresses: dotted IPv4, RFC 5952 IPv6 (`::ffff:a.b.c.d` when mapped). */
  readonly address: string;
  readonly port: number;
}

export interface ProxyTlv {
  readonly type: number;
  readonly value: Buffer;
}

/** A relayed connection: the client's and the load balancer's addresses. */
export interface ProxyHeaderProxy {
  readonly kind: "proxy";
  readonly family: "IPv4" | "IPv6";
  readonly source: ProxyAddress;
  readonly destination: ProxyAddress;
  readonly tlvs: readonly ProxyTlv[];
  /** Bytes of the header, all of which were consumed. */
  readonly headerBytes: number;
}

/** A connection the proxy made itself (health checks): no client behind it. */
export interface ProxyHeaderLocal {
  readonly kind: "local";
  readonly tlvs: readonly ProxyTlv[];
  readonly headerBytes: number;
}

export interface ProxyHeaderInvalid {
  readonly kind: "invalid";
  /** One line, for logs. */
  readonly reason: string;
}

export interface ProxyHeaderNeedMore {
  readonly kind: "need-more";
}

/** What `parseProxyV2` makes of the bytes seen so far. */
export type ProxyHeaderResult = ProxyHeaderProxy | ProxyHeaderLocal | ProxyHeaderInvalid | ProxyHeaderNeedMore;

const NEED_MORE: ProxyHeaderNeedMore = Object.freeze({ kind: "need-more" });

function invalid(reason: string): ProxyHeaderInvalid {
  return { kind: "invalid", reason };
}

/**
 * Parses a PROXY v2 header at the start of `bytes` (everything received so far). `need-more`
 * means the bytes are a valid prefix; the caller keeps them and calls again with more. A
 * complete header's `headerBytes` tells where the stream's own bytes begin.
 */
export function parseProxyV2(bytes: Uint8Array, maxHeaderBytes: number = PROXY_V2_MAX_HEADER_BYTES): ProxyHeaderResult {
  const signatureSeen = Math.min(bytes.length, PROXY_V2_SIGNATURE.length);
  for (let i = 0; i < signatureSeen; i += 1) {
    if (bytes[i] !== PROXY_V2_SIGNATURE[i]) {
      return invalid(startsLikeV1(bytes) ? "a PROXY v1 (text) header; only v2 is accepted" : "no PROXY v2 signature");
    }
  }
  if (bytes.length < 13) return NEED_MORE;
  const version = bytes[12] >> 4;
  const command = bytes[12] & 0x0f;
  if (version !== 2) return invalid(`PROXY protocol version ${version}; only 2 is accepted`);
  if (command !== 0 && command !== 1) return invalid(`unknown PROXY v2 command ${command}`);
  if (bytes.length < PROXY_V2_FIXED_BYTES) return NEED_MORE;

  const family = bytes[13] >> 4;
  const transport = bytes[13] & 0x0f;
  const length = (bytes[14] << 8) | bytes[15];
  const total = PROXY_V2_FIXED_BYTES + length;
  if (total > maxHeaderBytes) return invalid(`PROXY v2 header of ${total} bytes; at most ${maxHeaderBytes} are accepted`);
  if (command === 1) {
    const problem = proxyAddressProblem(family, transport, length);
    if (problem !== undefined) return invalid(problem);
  }
  if (bytes.length < total) return NEED_MORE;

  const body = Buffer.from(bytes.buffer, bytes.byteOffset + PROXY_V2_FIXED_BYTES, length);
  if (command === 0) {
    // LOCAL: the receiver "must discard the protocol block including the family" (the spec, 2.2),
    // so a LOCAL header is valid whatever its block holds. TLVs after a known family's addresses
    // are read when they parse; when they do not, none are reported. The NLB's health checks are
    // LOCAL with the INET family byte and 84 bytes that are no INET address block
    // (kubernetes/kubernetes#57250, pires/go-proxyproto#12): they must never be refused.
    const skip = family === 1 ? 12 : family === 2 ? 36 : length;
    const tlvs = parseTlvs(body.subarray(Math.min(skip, length)));
    return { kind: "local", tlvs: Array.isArray(tlvs) ? tlvs : [], headerBytes: total };
  }
  const ipv4 = family === 1;
  const addressBytes = ipv4 ? 4 : 16;
  const src = body.subarray(0, addressBytes);
  const dst = body.subarray(addressBytes, 2 * addressBytes);
  const ports = 2 * addressBytes;
  const tlvs = parseTlvs(body.subarray(ports + 4));
  if (!Array.isArray(tlvs)) return tlvs;
  return {
    kind: "proxy",
    family: ipv4 ? "IPv4" : "IPv6",
    source: { address: formatAddress(src), port: body.readUInt16BE(ports) },
    destination: { address: formatAddress(dst), port: body.readUInt16BE(ports + 2) },
    tlvs,
    headerBytes: total,
  };
}

function startsLikeV1(bytes: Uint8Array): boolean {
  return bytes.length >= 1 && bytes[0] === 0x50; // "P" of "PROXY "
}

function proxyAddressProblem(family: number, transport: number, length: number): string | undefined {
  if (family !== 1 && family !== 2) {
    const name = family === 0 ? "UNSPEC" : family === 3 ? "UNIX" : `0x${family.toString(16)}`;
    return `PROXY v2 address family ${name}; only INET and INET6 are accepted`;
  }
  if (transport !== 1) return `PROXY v2 transport ${transport === 2 ? "DGRAM" : transport}; only STREAM is accepted`;
  const needed = family === 1 ? 12 : 36;
  if (length < needed) return `PROXY v2 ${family === 1 ? "INET" : "INET6"} header declares ${length} bytes; its addresses need ${needed}`;
  return undefined;
}

/** TLVs, each within the block; a TLV that runs past the declared length makes the header invalid. */
function parseTlvs(block: Buffer): ProxyTlv[] | ProxyHeaderInvalid {
  const tlvs: ProxyTlv[] = [];
  let at = 0;
  while (at < block.length) {
    if (block.length - at < 3) return invalid(`PROXY v2 TLV header cut short at byte ${at} of ${block.length}`);
    const type = block[at];
    const length = block.readUInt16BE(at + 1);
    if (at + 3 + length > block.length) {
      return invalid(`PROXY v2 TLV 0x${type.toString(16)} declares ${length} bytes; only ${block.length - at - 3} remain`);
    }
    tlvs.push({ type, value: block.subarray(at + 3, at + 3 + length) });
    at += 3 + length;
  }
  return tlvs;
}

/** The VPC endpoint id an NLB behind PrivateLink puts in its AWS TLV, if any. */
export function awsVpcEndpointId(tlvs: readonly ProxyTlv[]): string | undefined {
  const aws = tlvs.find((t) => t.type === PP2_TYPE.AWS && t.value.length > 1 && t.value[0] === PP2_SUBTYPE_AWS_VPCE_ID);
  return aws?.value.subarray(1).toString("latin1");
}

/** An address in the form Node gives `socket.remoteAddress`, so that both key the same client. */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join(".");
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${Array.from(bytes.subarray(12)).join(".")}`;
  }
  // RFC 5952: the longest run of two or more zero groups (the first of equals) becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/** The 4 or 16 bytes of an IPv4 or IPv6 address; undefined if it is neither. */
export function addressBytes(address: string): Buffer | undefined {
  const kind = net.isIP(address);
  if (kind === 4) return Buffer.from(address.split(".").map(Number));
  if (kind !== 6) return undefined;
  let text = address.replace(/%.*$/, ""); // a zone id is not part of the address
  const out = Buffer.alloc(16);
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (dotted) {
    const v4 = dotted[1].split(".").map(Number);
    tail = [(v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]];
    text = text.slice(0, -dotted[1].length) + "0:0";
  }
  const [head, rest] = text.includes("::") ? text.split("::") : [text, undefined];
  const left = head === "" ? [] : head.split(":").map((g) => parseInt(g, 16));
  const right = rest === undefined || rest === "" ? [] : rest.split(":").map((g) => parseInt(g, 16));
  const groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  if (tail.length === 2) groups.splice(6, 2, ...tail);
  groups.forEach((g, i) => out.writeUInt16BE(g, 2 * i));
  return out;
}

/** What to send: a relayed connection's two ends, or a LOCAL header. */
export type ProxyV2Header =
  | { readonly kind: "proxy"; readonly source: ProxyAddress; readonly destination: ProxyAddress; readonly tlvs?: readonly ProxyTlv[] }
  | { readonly kind: "local"; readonly tlvs?: readonly ProxyTlv[] };

/**
 * Encodes a PROXY v2 header, as HAProxy's `send-proxy-v2` does. When one end is IPv6 and the
 * other IPv4, the IPv4 one is sent IPv4-mapped (`::ffff:a.b.c.d`), since a header has one family.
 * @throws RangeError on an address that is not IPv4 or IPv6, or a port or TLV out of range.
 */
export function encodeProxyV2(header: ProxyV2Header): Buffer {
  const tlvs = encodeTlvs(header.tlvs ?? []);
  if (header.kind === "local") return fixedPart(0x20, 0x00, Buffer.alloc(0), tlvs);
  let src = addressBytes(header.source.address);
  let dst = addressBytes(header.destination.address);
  if (src === undefined) throw new RangeError(`not an IP address: ${header.source.address}`);
  if (dst === undefined) throw new RangeError(`not an IP address: ${header.destination.address}`);
  if (src.length !== dst.length) {
    src = mapped(src);
    dst = mapped(dst);
  }
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(portOf(header.source.port), 0);
  ports.writeUInt16BE(portOf(header.destination.port), 2);
  const family = src.length === 4 ? 0x11 : 0x21; // INET or INET6, over STREAM
  return fixedPart(0x21, family, Buffer.concat([src, dst, ports]), tlvs);
}

function fixedPart(versionCommand: number, family: number, addresses: Buffer, tlvs: Buffer): Buffer {
  const length = addresses.length + tlvs.length;
  if (length > 0xffff) throw new RangeError(`a PROXY v2 header holds at most 65535 bytes after its first 16, not ${length}`);
  const fixed = Buffer.alloc(PROXY_V2_FIXED_BYTES);
  PROXY_V2_SIGNATURE.copy(fixed);
  fixed[12] = versionCommand;
  fixed[13] = family;
  fixed.writeUInt16BE(length, 14);
  return Buffer.concat([fixed, addresses, tlvs]);
}

function encodeTlvs(tlvs: readonly ProxyTlv[]): Buffer {
  return Buffer.concat(
    tlvs.map(({ type, value }) => {
      if (!Number.isInteger(type) || type < 0 || type > 0xff) throw new RangeError(`TLV type out of range: ${type}`);
      if (value.length > 0xffff) throw new RangeError(`TLV value of ${value.length} bytes; at most 65535`);
      const head = Buffer.from([type, value.length >> 8, value.length & 0xff]);
      return Buffer.concat([head, value]);
    }),
  );
}

function mapped(bytes: Buffer): Buffer {
  return bytes.length === 16 ? bytes : Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]), bytes]);
}

function portOf(port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`not a port: ${port}`);
  return port;
}

/**
 * Collects a connection's first bytes until its PROXY v2 header is complete. Keeps at most the
 * header's bound: `push` returns a final result (`proxy`, `local` or `invalid`) as soon as the
 * bytes decide it, with `rest` = the bytes after the header, which belong to the stream.
 */
export class ProxyHeaderParser {
  private received: Buffer = Buffer.alloc(0);
  private done = false;

  constructor(private readonly maxHeaderBytes: number = PROXY_V2_MAX_HEADER_BYTES) {}

  push(chunk: Uint8Array): (ProxyHeaderResult & { readonly rest?: Buffer }) {
    if (this.done) return invalid("the header was already parsed");
    this.received = this.received.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.received, chunk]);
    const result = parseProxyV2(this.received, this.maxHeaderBytes);
    if (result.kind === "need-more") return result;
    this.done = true;
    const all = this.received;
    this.received = Buffer.alloc(0);
    if (result.kind === "invalid") return result;
    return { ...result, rest: all.subarray(result.headerBytes) };
  }

  /** Bytes held so far (never more than the header bound plus one chunk). */
  get buffered(): number {
    return this.received.length;
  }
}
