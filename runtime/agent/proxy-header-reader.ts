import type * as net from "node:net";
import { PROXY_V2_MAX_HEADER_BYTES } from "./contract";
import { ProxyHeaderParser, type ProxyHeaderLocal, type ProxyHeaderProxy } from "./proxy-protocol";

/** How reading a connection's PROXY v2 header ended. */
export type HeaderOutcome =
  | ProxyHeaderProxy
  | ProxyHeaderLocal
  | { readonly kind: "invalid"; readonly reason: string }
  | { readonly kind: "timeout"; readonly received: number }
  /** The client closed before sending a byte (no header at all: an NLB TLS listener's connectivity test does this). */
  | { readonly kind: "closed" };

export interface ReadHeaderOptions {
  /** The whole header must arrive within this many ms. */
  readonly timeoutMs: number;
  readonly maxHeaderBytes?: number;
}

/**
 * Reads the PROXY v2 header at the start of a paused socket, then leaves the socket paused
 * with the bytes after the header put back at the front of its buffer (`unshift`), so whatever
 * reads it next sees exactly the client's stream. Calls `done` once. The socket is neither
 * closed nor written to: on `invalid` or `timeout` the caller resets it, and no byte of it
 * has gone anywhere.
 */
export function readProxyHeader(socket: net.Socket, options: ReadHeaderOptions, done: (outcome: HeaderOutcome) => void): void {
  const parser = new ProxyHeaderParser(options.maxHeaderBytes ?? PROXY_V2_MAX_HEADER_BYTES);
  let finished = false;
  const finish = (outcome: HeaderOutcome): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.pause();
    socket.off("data", onData);
    socket.off("end", onClosed);
    socket.off("close", onClosed);
    // The error listener stays (a no-op once finished): a socket must never be left without one.
    done(outcome);
  };
  const onData = (chunk: Buffer): void => {
    const result = parser.push(chunk);
    if (result.kind === "need-more") return;
    if (result.kind === "invalid") {
      finish(result);
      return;
    }
    const { rest, ...header } = result;
    socket.pause();
    if (rest !== undefined && rest.length > 0) socket.unshift(rest);
    finish(header);
  };
  // A client that leaves part-way through its header sent an invalid one (cut short): counted and
  // reset like any other invalid header. Only a client that sent nothing at all is `closed`.
  const onClosed = (): void =>
    finish(parser.buffered === 0 ? { kind: "closed" } : { kind: "invalid", reason: `the client closed after ${parser.buffered} byte(s) of a PROXY v2 header` });
  const timer = setTimeout(() => finish({ kind: "timeout", received: parser.buffered }), options.timeoutMs);
  timer.unref();
  socket.on("data", onData);
  socket.on("end", onClosed);
  socket.on("close", onClosed);
  socket.on("error", onClosed);
  socket.resume();
}
