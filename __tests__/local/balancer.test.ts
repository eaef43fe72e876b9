import { once } from "node:events";
import * as crypto from "node:crypto";
import * as net from "node:net";
import { Balancer, type Backend } from "../../runtime/local/balancer";
import { LocalError } from "../../runtime/local/errors";
import { freePort, within } from "./helpers";

/** A backend that greets each connection with its name and then echoes. */
interface NamedServer {
  readonly backend: Backend;
  readonly server: net.Server;
  readonly sockets: Set<net.Socket>;
}

const servers: NamedServer[] = [];
const clients: net.Socket[] = [];
let balancer: Balancer | undefined;

async function namedServer(name: string): Promise<NamedServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.write(`${name}\n`);
    socket.pipe(socket);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const entry = { backend: { id: name, host: "127.0.0.1", port: (server.address() as net.AddressInfo).port }, server, sockets };
  servers.push(entry);
  return entry;
}

async function startBalancer(options: { waitForBackendMs?: number } = {}): Promise<Balancer> {
  balancer = new Balancer({ port: 0, ...options });
  await balancer.listen();
  return balancer;
}

function connect(port: number): net.Socket {
  const socket = net.connect(port, "127.0.0.1");
  clients.push(socket);
  return socket;
}

/** The first line a connection receives: the backend's name. */
function greeting(socket: net.Socket): Promise<string> {
  return within(
    new Promise<string>((resolve, reject) => {
      let text = "";
      socket.on("data", (chunk: Buffer) => {
        text += chunk.toString();
        const end = text.indexOf("\n");
        if (end !== -1) resolve(text.slice(0, end));
      });
      socket.once("close", () => reject(new Error("closed before a greeting")));
    }),
    5_000,
    "a greeting",
  );
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await balancer?.close();
  balancer = undefined;
  for (const { server, sockets } of servers.splice(0)) {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

describe("Balancer", () => {
  it("sends each new connection to the next backend in the rotation", async () => {
    const lb = await startBalancer();
    lb.add((await namedServer("a")).backend);
    lb.add((await namedServer("b")).backend);

    const names: string[] = [];
    for (let i = 0; i < 4; i += 1) names.push(await greeting(connect(lb.port)));

    expect(names).toEqual(["a", "b", "a", "b"]);
  });

  it("keeps a connection on its backend after the backend leaves the rotation", async () => {
    const lb = await startBalancer();
    const a = await namedServer("a");
    lb.add(a.backend);
    const socket = connect(lb.port);
    await greeting(socket);

    lb.remove("a");
    lb.add((await namedServer("b")).backend);
    socket.write("still here\n");
    const [echo] = await within(once(socket, "data") as Promise<Buffer[]>, 5_000, "the echo");

    expect(echo.toString()).toBe("still here\n");
    expect(a.sockets.size).toBe(1);
  });

  it("holds a connection that arrives with no backend until one is added", async () => {
    const lb = await startBalancer({ waitForBackendMs: 10_000 });
    const socket = connect(lb.port);
    await once(socket, "connect");
    const greeted = greeting(socket);

    lb.add((await namedServer("late")).backend);

    await expect(greeted).resolves.toBe("late");
  });

  it("closes, rather than refuses, a connection when no backend comes in time", async () => {
    const lb = await startBalancer({ waitForBackendMs: 200 });
    const socket = connect(lb.port);
    let connected = false;
    const errors: Error[] = [];
    socket.on("connect", () => (connected = true));
    socket.on("error", (err) => errors.push(err));

    await within(once(socket, "close"), 5_000, "the close");

    expect(connected).toBe(true);
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).not.toContain("ECONNREFUSED");
  });

  it("resets the client, as an NLB does, when its backend refuses the connection", async () => {
    const refused: string[] = [];
    balancer = new Balancer({ port: 0, report: (id, mark) => refused.push(`${id} ${mark}`) });
    await balancer.listen();
    balancer.add({ id: "dead", host: "127.0.0.1", port: await freePort() });
    const socket = connect(balancer.port);
    const error = new Promise<NodeJS.ErrnoException>((resolve) => socket.once("error", resolve));

    const code = (await within(error, 5_000, "the reset")).code;

    expect(code).toBe("ECONNRESET");
    expect(refused).toEqual(["dead refused"]);
  });

  it("resets every connection to a backend, both ways, on reset() and counts them", async () => {
    const dropped: string[] = [];
    balancer = new Balancer({ port: 0, report: (id, mark, count) => dropped.push(`${id} ${mark} ${count}`) });
    await balancer.listen();
    const a = await namedServer("a");
    balancer.add(a.backend);
    const sockets = [connect(balancer.port), connect(balancer.port)];
    await Promise.all(sockets.map(greeting));
    const errors = sockets.map((s) => new Promise<string | undefined>((resolve) => s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code))));
    const serverSide = [...a.sockets].map((s) => new Promise<string | undefined>((resolve) => s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code))));

    const count = balancer.reset("a");

    expect(count).toBe(2);
    expect(await within(Promise.all(errors), 5_000, "the client resets")).toEqual(["ECONNRESET", "ECONNRESET"]);
    expect(await within(Promise.all(serverSide), 5_000, "the backend resets")).toEqual(["ECONNRESET", "ECONNRESET"]);
    expect(dropped).toEqual(["a dropped 2"]);
  });

  it("carries 4 MB both ways without losing or changing a byte", async () => {
    const lb = await startBalancer();
    lb.add((await namedServer("echo")).backend);
    const payload = crypto.randomBytes(4 * 1024 * 1024);
    const socket = connect(lb.port);
    const received: Buffer[] = [];
    let length = 0;
    const done = within(
      new Promise<void>((resolve) => {
        socket.on("data", (chunk: Buffer) => {
          received.push(chunk);
          length += chunk.length;
          if (length >= payload.length + "echo\n".length) resolve();
        });
      }),
      20_000,
      "the echo of 4 MB",
    );

    socket.end(payload);
    await done;

    const body = Buffer.concat(received).subarray("echo\n".length);
    expect(crypto.createHash("sha256").update(body).digest("hex")).toBe(crypto.createHash("sha256").update(payload).digest("hex"));
  });

  it("resets the client's connection when its backend resets it (a cut stream never ends with a FIN)", async () => {
    const lb = await startBalancer();
    const a = await namedServer("a");
    lb.add(a.backend);
    const socket = connect(lb.port);
    const error = new Promise<NodeJS.ErrnoException>((resolve) => socket.once("error", resolve));
    await greeting(socket);

    for (const s of a.sockets) s.resetAndDestroy();

    expect((await within(error, 5_000, "the client's reset")).code).toBe("ECONNRESET");
  });

  it("reports a port in use with a stable code", async () => {
    const first = await startBalancer();
    const second = new Balancer({ port: first.port });

    const failure = await second.listen().catch((err: unknown) => err);

    expect(failure).toBeInstanceOf(LocalError);
    expect(failure).toMatchObject({ code: "TCP_ADDON_LOCAL_PORT_UNAVAILABLE" });
  });

  it("closes every open connection when it closes", async () => {
    const lb = await startBalancer();
    lb.add((await namedServer("a")).backend);
    const socket = connect(lb.port);
    await greeting(socket);

    await lb.close();

    await within(once(socket, "close"), 5_000, "the client to close");
    expect(lb.connectionCount).toBe(0);
  });
});
