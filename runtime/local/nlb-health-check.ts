import * as http from "node:http";
import * as net from "node:net";

/**
 * The PROXY v2 header an NLB puts in front of a health-check connection when its target group
 * has proxy protocol v2 on, byte for byte as captured with tcpdump in kubernetes/kubernetes#57250
 * (2019-03-21): the LOCAL command (0x20), the family byte 0x11 (TCP over IPv4), and 84 bytes after
 * the fixed 16, which hold no client address: a CRC32C TLV (type 0x03, 4 bytes) and a NOOP TLV
 * (type 0x04) of 74 zero bytes. The ELB docs say the same in words: "After you enable proxy
 * protocol, the proxy protocol header is also included in health check connections from the load
 * balancer. However, with health check connections, the client connection information is not
 * sent in the proxy protocol header." (Target groups for your Network Load Balancers > Proxy
 * protocol > Health check connections). pires/go-proxyproto#12 reports the same shape: "AWS NLB
 * sends health check packets with the LOCAL command, and uses the TCPv4 address family with dummy
 * IP and port information".
 */
export const NLB_HEALTH_CHECK_HEADER: Buffer = Buffer.from(
  "0d0a0d0a000d0a515549540a" + "20" + "11" + "0054" + "03" + "0004" + "bce5951f" + "04" + "004a" + "00".repeat(74),
  "hex",
);

export interface HealthProbe {
  readonly host: string;
  readonly port: number;
  /** Send the NLB's health-check PROXY v2 header before the request (the target group has `proxy_protocol_v2`). */
  readonly proxyHeader: boolean;
  readonly timeoutMs: number;
}

/** One NLB HTTP health check: GET /healthz on its own connection; true on a 200 within the timeout. */
export function probeHealth(probe: HealthProbe): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const settle = (ok: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(ok);
    };
    const request = http.get(
      {
        host: probe.host,
        port: probe.port,
        path: "/healthz",
        // No agent: a connection of its own per check (as the NLB's), made here so that the header
        // goes first on it, before the request, as the NLB sends it.
        agent: undefined,
        createConnection: () => {
          const socket = net.connect({ host: probe.host, port: probe.port });
          if (probe.proxyHeader) socket.write(NLB_HEALTH_CHECK_HEADER);
          return socket;
        },
      },
      (response) => {
        response.resume();
        settle(response.statusCode === 200);
        request.destroy();
      },
    );
    const timer = setTimeout(() => {
      request.destroy();
      settle(false);
    }, probe.timeoutMs);
    request.on("error", () => settle(false));
  });
}
