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
