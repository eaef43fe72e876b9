import * as fc from "fast-check";
import { NLB_HEALTH_CHECK_HEADER } from "../../runtime/local/nlb-health-check";
import {
  addressBytes,
  awsVpcEndpointId,
  encodeProxyV2,
  formatAddress,
  parseProxyV2,
  PP2_TYPE,
  ProxyHeaderParser,
  type ProxyHeaderResult,
} from "../../runtime/agent/proxy-protocol";
import { PROXY_V2_MAX_HEADER_BYTES } from "../../runtime/agent/contract";

/** Hex with spaces and comments allowed, as the bytes were captured. */
function hex(text: string): Buffer {
  return Buffer.from(text.replace(/#.*$/gm, "").replace(/\s+/g, ""), "hex");
}

const SIGNATURE = "0d0a0d0a 000d0a51 5549540a";

// An NLB header for a PrivateLink client: IPv4, PROXY, with the AWS TLV (0xEA, subtype 0x01 = VPC endpoint id).
const NLB_IPV4_VPCE = hex(`
  ${SIGNATURE}
  21 11 0026                 # v2 PROXY, INET STREAM, 38 bytes follow
  cb007107 0a000119          # 203.0.113.7 -> 10.0.1.25
  c822 4e23                  # 51234 -> 20003
  ea 0017 01 767063652d30386432626631356661633530303163 39  # AWS TLV: vpce id (22 chars)
`);

// An NLB header over IPv6 (dualstack NLB), no TLVs.
const NLB_IPV6 = hex(`
  ${SIGNATURE}
  21 21 0024                 # v2 PROXY, INET6 STREAM, 36 bytes follow
  20010db8000000000000000000010002    # 2001:db8::1:2
  2600 1f18 0a3c 7f00 0000 0000 0000 0010   # 2600:1f18:a3c:7f00::10
  ea60 075b                  # 60000 -> 1883
`);

// A health-check connection: LOCAL, family UNSPEC, nothing follows (what HAProxy and the NLB send).
const LOCAL = hex(`${SIGNATURE} 20 00 0000`);

// LOCAL that still carries an INET block and a NOOP TLV: the addresses are ignored.
const LOCAL_WITH_BLOCK = hex(`${SIGNATURE} 20 11 0011  7f000001 7f000001 1f90 1f91  04 0002 0000`);

// IPv4 with CRC32C (0x03) and NOOP (0x04) padding TLVs, as HAProxy can send.
const IPV4_CRC_NOOP = hex(`
  ${SIGNATURE}
  21 11 0017
  c0000201 c6336402 0400 0050         # 192.0.2.1:1024 -> 198.51.100.2:80
  03 0004 a1b2c3d4
  04 0001 00
`);

function expectProxy(result: ProxyHeaderResult) {
  if (result.kind !== "proxy") throw new Error(`expected a proxy header, got ${JSON.stringify(result)}`);
  return result;
}

describe("parseProxyV2 on captured headers", () => {
  it("reads an NLB IPv4 header with the AWS VPC endpoint TLV", () => {
    const header = expectProxy(parseProxyV2(NLB_IPV4_VPCE));
    expect(header.family).toBe("IPv4");
    expect(header.source).toEqual({ address: "203.0.113.7", port: 51234 });
    expect(header.destination).toEqual({ address: "10.0.1.25", port: 20003 });
    expect(header.headerBytes).toBe(NLB_IPV4_VPCE.length);
    expect(header.tlvs.map((t) => t.type)).toEqual([PP2_TYPE.AWS]);
    expect(awsVpcEndpointId(header.tlvs)).toBe("vpce-08d2bf15fac5001c9");
  });

  it("reads an IPv6 header and prints addresses as Node does", () => {
    const header = expectProxy(parseProxyV2(NLB_IPV6));
    expect(header.family).toBe("IPv6");
    expect(header.source).toEqual({ address: "2001:db8::1:2", port: 60000 });
    expect(header.destination).toEqual({ address: "2600:1f18:a3c:7f00::10", port: 1883 });
    expect(header.tlvs).toEqual([]);
  });

  it("reads LOCAL (a health check) with no address block", () => {
    expect(parseProxyV2(LOCAL)).toEqual({ kind: "local", tlvs: [], headerBytes: 16 });
  });

  it("reads the NLB's own health-check header (LOCAL, INET family byte, no addresses: kubernetes/kubernetes#57250)", () => {
    expect(parseProxyV2(NLB_HEALTH_CHECK_HEADER)).toMatchObject({ kind: "local", headerBytes: 100 });
  });

  it("never refuses a LOCAL header for its block, even one whose TLVs do not parse (the spec: the receiver discards it)", () => {
    const odd = hex(`${SIGNATURE} 20 11 000e  7f000001 7f000001 1f90 1f91  04 00`);
    expect(parseProxyV2(odd)).toEqual({ kind: "local", tlvs: [], headerBytes: odd.length });
  });

  it("ignores the address block of a LOCAL header and still skips its TLVs", () => {
    const result = parseProxyV2(LOCAL_WITH_BLOCK);
    expect(result).toMatchObject({ kind: "local", headerBytes: LOCAL_WITH_BLOCK.length });
    expect(result.kind === "local" && result.tlvs.map((t) => t.type)).toEqual([PP2_TYPE.NOOP]);
  });

  it("skips CRC32C and NOOP TLVs within the declared length", () => {
    const header = expectProxy(parseProxyV2(IPV4_CRC_NOOP));
    expect(header.source).toEqual({ address: "192.0.2.1", port: 1024 });
    expect(header.tlvs.map((t) => [t.type, t.value.length])).toEqual([[PP2_TYPE.CRC32C, 4], [PP2_TYPE.NOOP, 1]]);
    expect(awsVpcEndpointId(header.tlvs)).toBeUndefined();
  });
});

describe("parseProxyV2 decides as early as the bytes allow", () => {
  it("says need-more for every strict prefix of a valid header", () => {
    for (const header of [NLB_IPV4_VPCE, NLB_IPV6, LOCAL, IPV4_CRC_NOOP]) {
      for (let n = 0; n < header.length; n += 1) expect(parseProxyV2(header.subarray(0, n)).kind).toBe("need-more");
    }
  });

  it("rejects a client that speaks first without a header at its first byte", () => {
    expect(parseProxyV2(Buffer.from([0x10]))).toEqual({ kind: "invalid", reason: "no PROXY v2 signature" });
  });

  it("rejects PROXY v1 by name", () => {
    const result = parseProxyV2(Buffer.from("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"));
    expect(result).toEqual({ kind: "invalid", reason: "a PROXY v1 (text) header; only v2 is accepted" });
  });

  it("rejects version 1 in the binary form and unknown commands", () => {
    expect(parseProxyV2(hex(`${SIGNATURE} 11`))).toMatchObject({ kind: "invalid", reason: expect.stringContaining("version 1") });
    expect(parseProxyV2(hex(`${SIGNATURE} 22`))).toMatchObject({ kind: "invalid", reason: expect.stringContaining("command 2") });
  });

  it("rejects UNIX, UNSPEC and DGRAM on a PROXY command", () => {
    expect(parseProxyV2(hex(`${SIGNATURE} 21 31 00d8`)).kind).toBe("invalid");
    expect(parseProxyV2(hex(`${SIGNATURE} 21 00 0000`)).kind).toBe("invalid");
    expect(parseProxyV2(hex(`${SIGNATURE} 21 12 000c`))).toMatchObject({ reason: expect.stringContaining("DGRAM") });
  });

  it("rejects a length too short for the family's addresses before the body arrives", () => {
    expect(parseProxyV2(hex(`${SIGNATURE} 21 21 0010`))).toMatchObject({ kind: "invalid", reason: expect.stringContaining("need 36") });
  });

  it("rejects a declared length above the bound without waiting for it", () => {
    const result = parseProxyV2(hex(`${SIGNATURE} 21 11 ffff`));
    expect(result).toMatchObject({ kind: "invalid", reason: expect.stringContaining(`at most ${PROXY_V2_MAX_HEADER_BYTES}`) });
  });

  it("rejects a TLV that runs past the declared length", () => {
    const overrun = hex(`${SIGNATURE} 21 11 0010  01020304 05060708 0001 0002  ea 0009 01`);
    expect(parseProxyV2(overrun)).toMatchObject({ kind: "invalid", reason: expect.stringContaining("TLV 0xea declares 9") });
  });
});

describe("ProxyHeaderParser", () => {
  it("assembles a header sent one byte at a time and returns the stream's first bytes", () => {
    const parser = new ProxyHeaderParser();
    const stream = Buffer.concat([NLB_IPV4_VPCE, Buffer.from("MQTT-CONNECT")]);
    let result: ReturnType<ProxyHeaderParser["push"]> = { kind: "need-more" };
    let i = 0;
    for (; i < NLB_IPV4_VPCE.length; i += 1) result = parser.push(stream.subarray(i, i + 1));
    expect(result.kind).toBe("proxy");
    expect(result.kind === "proxy" && result.rest).toEqual(Buffer.alloc(0));
    expect(parser.buffered).toBe(0);
  });

  it("hands back the bytes after the header when they come in the same chunk", () => {
    const result = new ProxyHeaderParser().push(Buffer.concat([LOCAL, Buffer.from("x")]));
    expect(result).toMatchObject({ kind: "local", rest: Buffer.from("x") });
  });
});

describe("encodeProxyV2", () => {
  it("writes the same bytes the NLB sends", () => {
    const header = expectProxy(parseProxyV2(NLB_IPV6));
    expect(encodeProxyV2({ kind: "proxy", source: header.source, destination: header.destination })).toEqual(NLB_IPV6);
    expect(encodeProxyV2({ kind: "local" })).toEqual(LOCAL);
  });

  it("keeps TLVs", () => {
    const header = expectProxy(parseProxyV2(NLB_IPV4_VPCE));
    expect(encodeProxyV2({ kind: "proxy", source: header.source, destination: header.destination, tlvs: header.tlvs })).toEqual(
      NLB_IPV4_VPCE,
    );
  });

  it("maps an IPv4 end to IPv6 when the other end is IPv6", () => {
    const bytes = encodeProxyV2({
      kind: "proxy",
      source: { address: "127.0.0.1", port: 1 },
      destination: { address: "::1", port: 2 },
    });
    const header = expectProxy(parseProxyV2(bytes));
    expect(header).toMatchObject({ family: "IPv6", source: { address: "::ffff:127.0.0.1" }, destination: { address: "::1" } });
  });

  it("refuses what is not an address or a port", () => {
    expect(() => encodeProxyV2({ kind: "proxy", source: { address: "localhost", port: 1 }, destination: { address: "::1", port: 1 } })).toThrow(RangeError);
    expect(() => encodeProxyV2({ kind: "proxy", source: { address: "::1", port: 70000 }, destination: { address: "::1", port: 1 } })).toThrow(RangeError);
  });
});

describe("addresses", () => {
  it.each([
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:0db8:0000:0001:0001:0001:0001:0001", "2001:db8:0:1:1:1:1:1"],
    ["::ffff:10.0.0.1", "::ffff:10.0.0.1"],
    ["fe80::1%eth0", "fe80::1"],
  ])("%s prints as %s", (input, printed) => {
    expect(formatAddress(addressBytes(input)!)).toBe(printed);
  });
});

describe("fuzz: the parser never throws and never takes a byte it should not", () => {
  const decided = ["proxy", "local", "invalid", "need-more"];

  it("arbitrary bytes give a clean result", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        expect(decided).toContain(parseProxyV2(bytes).kind);
      }),
      { numRuns: 3000 },
    );
  });

  it("arbitrary bytes after a real signature give a clean result, and a complete one fits its declared length", () => {
    const signature = hex(SIGNATURE);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (tail) => {
        const bytes = Buffer.concat([signature, tail]);
        const result = parseProxyV2(bytes);
        expect(decided).toContain(result.kind);
        if (result.kind === "proxy" || result.kind === "local") {
          expect(result.headerBytes).toBe(16 + bytes.readUInt16BE(14));
          expect(result.headerBytes).toBeLessThanOrEqual(bytes.length);
        }
      }),
      { numRuns: 3000 },
    );
  });

  const ipv4 = fc.ipV4();
  const ipv6 = fc.ipV6();
  const endpoint = (ip: fc.Arbitrary<string>) => fc.record({ address: ip, port: fc.integer({ min: 0, max: 65535 }) });
  const tlv = fc.record({ type: fc.integer({ min: 0, max: 255 }), value: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) });
  const header = fc.oneof(
    fc.record({ kind: fc.constant("proxy" as const), source: endpoint(ipv4), destination: endpoint(ipv4), tlvs: fc.array(tlv, { maxLength: 4 }) }),
    fc.record({ kind: fc.constant("proxy" as const), source: endpoint(ipv6), destination: endpoint(ipv6), tlvs: fc.array(tlv, { maxLength: 4 }) }),
    fc.record({ kind: fc.constant("local" as const), tlvs: fc.array(tlv, { maxLength: 4 }) }),
  );

  it("every truncation of an encoded header is need-more; the whole one parses back, whatever the chunking", () => {
    fc.assert(
      fc.property(header, fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }), fc.uint8Array({ maxLength: 20 }), (h, cuts, payload) => {
        const bytes = encodeProxyV2(h);
        for (const n of [0, 1, 12, 13, 15, 16, bytes.length - 1]) {
          if (n < bytes.length) expect(parseProxyV2(bytes.subarray(0, n)).kind).toBe("need-more");
        }
        const stream = Buffer.concat([bytes, payload]);
        const parser = new ProxyHeaderParser();
        let at = 0;
        let result: ReturnType<ProxyHeaderParser["push"]> = { kind: "need-more" };
        for (let i = 0; result.kind === "need-more" && at < stream.length; i += 1) {
          const size = cuts[i % cuts.length];
          result = parser.push(stream.subarray(at, at + size));
          at += size;
        }
        expect(result.kind).toBe(h.kind);
        // The stream's own bytes are exactly what followed the header: none lost, none taken.
        const rest = "rest" in result && result.rest !== undefined ? result.rest : Buffer.alloc(0);
        expect(Buffer.concat([rest, stream.subarray(Math.min(at, stream.length))])).toEqual(Buffer.from(payload));
        if (h.kind === "proxy" && result.kind === "proxy") {
          expect(addressBytes(result.source.address)).toEqual(addressBytes(h.source.address));
          expect(result.source.port).toBe(h.source.port);
          expect(result.destination.port).toBe(h.destination.port);
          expect(result.tlvs.map((t) => Buffer.from(t.value))).toEqual(h.tlvs.map((t) => t.value));
        }
      }),
      { numRuns: 1500 },
    );
  });

  it("a corrupted byte of a real header gives a clean result", () => {
    fc.assert(
      fc.property(fc.constantFrom(NLB_IPV4_VPCE, NLB_IPV6, LOCAL, IPV4_CRC_NOOP), fc.nat(), fc.integer({ min: 0, max: 255 }), (base, at, value) => {
        const bytes = Buffer.from(base);
        bytes[at % bytes.length] = value;
        expect(decided).toContain(parseProxyV2(bytes).kind);
      }),
      { numRuns: 3000 },
    );
  });
});
