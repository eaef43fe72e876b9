import { encodeProxyV2, PP2_SUBTYPE_AWS_VPCE_ID, PP2_TYPE, PROXY_V2_SIGNATURE } from "../../runtime/agent/proxy-protocol";
import { NLB_HEALTH_CHECK_HEADER } from "../../runtime/local/nlb-health-check";
import { HOST, Resources, closed, metric } from "./helpers";

/**
 * The health port behind an NLB target group with proxy protocol v2: the NLB sends its PROXY v2
 * header on health-check connections too. Source: ELB docs, "Target groups for your Network Load
 * Balancers" > Proxy protocol > Health check connections
 * (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-target-groups.html#health-check-connections,
 * now under edit-target-group-attributes.html#proxy-protocol): "After you enable proxy protocol,
 * the proxy protocol header is also included in health check connections from the load balancer.
 * However, with health check connections, the client connection information is not sent in the
 * proxy protocol header." kubernetes/ingress-nginx#10982 reports the failure this prevents (ip
 * targets, an HTTP check on a separate port, every target unhealthy). What the header holds: LOCAL,
 * family byte 0x11, no address (kubernetes/kubernetes#57250's capture, NLB_HEALTH_CHECK_HEADER).
 */

const resources = new Resources();
afterEach(() => resources.closeAll());

/** An agent reading PROXY v2 (as the declaration runs it for `clientIp: proxy-v2`), in front of an app that accepts. */
async function proxyAgent(): Promise<number> {
  const { port } = await resources.server(() => {});
  const { ready } = await resources.startAgent(["--listen", "0", "--host", HOST, "--health-port", "0", "--upstream", `${HOST}:${port}`, "--proxy-protocol", "proxy-v2"]);
  return ready.healthPort!;
}

/** Sends `prefix` then one HTTP/1.1 GET on a new connection; resolves with the status and body. */
async function rawGet(port: number, urlPath: string, prefix: Buffer = Buffer.alloc(0)): Promise<{ status: number; body: string }> {
  const socket = await resources.connect(port);
  return new Promise((resolve, reject) => {
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.once("error", reject);
    socket.once("end", () => {
      const headerEnd = text.indexOf("\r\n\r\n");
      if (!text.startsWith("HTTP/1.1 ") || headerEnd < 0) return reject(new Error(`not an HTTP answer: ${JSON.stringify(text)}`));
      resolve({ status: Number(text.slice(9, 12)), body: text.slice(headerEnd + 4) });
    });
    socket.write(Buffer.concat([prefix, Buffer.from(`GET ${urlPath} HTTP/1.1\r\nHost: 10.0.1.25:7001\r\nConnection: close\r\n\r\n`)]));
  });
}

const PROXY_IPV4 = encodeProxyV2({ kind: "proxy", source: { address: "203.0.113.7", port: 51234 }, destination: { address: "10.0.1.25", port: 7001 } });
const PROXY_IPV6_WITH_TLVS = encodeProxyV2({
  kind: "proxy",
  source: { address: "2001:db8::7", port: 51234 },
  destination: { address: "2001:db8:1::25", port: 7001 },
  tlvs: [
    { type: PP2_TYPE.AWS, value: Buffer.concat([Buffer.from([PP2_SUBTYPE_AWS_VPCE_ID]), Buffer.from("vpce-08d2bf15fac5001c9")]) },
    { type: PP2_TYPE.NOOP, value: Buffer.alloc(5) },
  ],
});

describe("the health port behind PROXY protocol v2", () => {
  it("/healthz answers 200 to a plain request", async () => {
    const port = await proxyAgent();
    expect(await rawGet(port, "/healthz")).toEqual({ status: 200, body: "ok\n" });
  });

  it("/healthz answers 200 behind a PROXY v2 LOCAL header", async () => {
    const port = await proxyAgent();
    // the NLB's own (LOCAL, INET family byte, TLVs), and HAProxy's (LOCAL, UNSPEC, nothing after)
    expect(await rawGet(port, "/healthz", NLB_HEALTH_CHECK_HEADER)).toEqual({ status: 200, body: "ok\n" });
    expect(await rawGet(port, "/healthz", encodeProxyV2({ kind: "local" }))).toEqual({ status: 200, body: "ok\n" });
  });

  it("/healthz answers 200 behind a PROXY v2 PROXY header", async () => {
    const port = await proxyAgent();
    expect(await rawGet(port, "/healthz", PROXY_IPV4)).toEqual({ status: 200, body: "ok\n" });
    expect(await rawGet(port, "/healthz", PROXY_IPV6_WITH_TLVS)).toEqual({ status: 200, body: "ok\n" });
  });

  it("/metrics answers behind a PROXY v2 PROXY header", async () => {
    const port = await proxyAgent();
    await rawGet(port, "/healthz", NLB_HEALTH_CHECK_HEADER);
    await rawGet(port, "/healthz");
    const { status, body } = await rawGet(port, "/metrics", PROXY_IPV4);
    expect(status).toBe(200);
    // each connection counted once, by what came before its request (this one's header is counted before it is answered)
    expect(metric(body, 'tcp_addon_health_proxy_headers_total{outcome="local"}')).toBe(1);
    expect(metric(body, 'tcp_addon_health_proxy_headers_total{outcome="none"}')).toBe(1);
    expect(metric(body, 'tcp_addon_health_proxy_headers_total{outcome="proxy"}')).toBe(1);
    expect(metric(body, 'tcp_addon_health_proxy_headers_total{outcome="invalid"}')).toBe(0);
  });

  it("a malformed PROXY v2 header on the health port is reset", async () => {
    const port = await proxyAgent();
    // given the signature, then version 3: no request may be read behind it
    const socket = await resources.connect(port);
    const result = closed(socket);
    let answered = "";
    socket.on("data", (chunk: Buffer) => (answered += chunk.toString("latin1")));
    socket.write(Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x31, 0x11, 0x00, 0x0c]), Buffer.alloc(12), Buffer.from("GET /healthz HTTP/1.1\r\n\r\n")]));

    // then it is reset, with no answer, and counted
    expect((await result).error?.code).toBe("ECONNRESET");
    expect(answered).toBe("");
    const { body } = await rawGet(port, "/metrics");
    expect(metric(body, 'tcp_addon_health_proxy_headers_total{outcome="invalid"}')).toBe(1);
  });
});
