import * as net from "node:net";
import * as tls from "node:tls";

/**
 * Closes a socket with a TCP reset, so that its peer sees an abort, never a clean end of
 * stream. A TLS socket cannot be reset through its TLS handle, so its TCP socket is; the peer
 * sees the reset either way. Safe to call twice.
 */
export function abortSocket(socket: net.Socket): void {
  if (socket.destroyed) return;
  const parent = socket instanceof tls.TLSSocket ? (socket as tls.TLSSocket & { _parent?: unknown })._parent : undefined;
  if (parent instanceof net.Socket) {
    if (!parent.destroyed) parent.resetAndDestroy();
    socket.destroy();
    return;
  }
  // Once the FIN is on its way (ended, nothing left to write), libuv refuses a reset and the
  // socket would stay open: a plain close is all there is (and resets if bytes are unread).
  if (socket.pending || socket.connecting || (socket.writableEnded && socket.writableLength === 0)) socket.destroy();
  else socket.resetAndDestroy();
}

/**
 * Whether a socket whose end of stream was just reported actually received a reset. libuv
 * reports a reset that arrives right behind the last bytes as an end of stream (a short read,
 * then the hang-up). While the agent has not ended its own side, the kernel's state tells
 * them apart: after a FIN the socket is still connected (CLOSE_WAIT) and has a peer; after
 * a reset it is closed and `getpeername` fails. Node keeps no public call for this, so the
 * handle's own `getpeername` (the one behind `remoteAddress`) is used, and without it the
 * end counts as a FIN. Ask from an 'end' listener: Node ends a socket without `allowHalfOpen`
 * on the next tick, and once the reader has ended its own side the two look alike.
 */
export function resetBehindEnd(socket: net.Socket): boolean {
  if (socket.writableEnded) return false;
  const handle = (socket as unknown as { _handle?: { getpeername?: (out: object) => number } | null })._handle;
  if (handle === null || handle === undefined || typeof handle.getpeername !== "function") return false;
  return handle.getpeername({}) !== 0;
}

/**
 * Binds `server` to host:port; resolves with the port it got (the kernel's pick for 0). A
 * failure to bind rejects with `fail(error)`; the error listener used for it is removed once
 * bound, so the caller attaches its own for what comes later.
 */
export function listenOrFail(server: net.Server, port: number, host: string, fail: (error: NodeJS.ErrnoException) => Error): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => reject(fail(error));
    server.once("error", onError);
    server.listen({ port, host }, () => {
      server.off("error", onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}
