import * as fs from "node:fs";
import * as net from "node:net";
import { FlagError } from "./errors";

/**
 * The lifeline: a pipe (or socket) the supervisor passes as an inherited file descriptor and
 * never writes to. Its end of file means the supervisor is gone, however it died (kill -9
 * included: the kernel closes its end), and the agent must stop now.
 */
export interface Lifeline {
  /** Stops watching (the agent is exiting anyway). */
  close(): void;
}

/** Throws a FlagError unless `fd` is an open pipe or socket (checked before anything starts). */
export function checkLifelineFd(fd: number, source: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.fstatSync(fd);
  } catch (error) {
    throw new FlagError(`${source} ${fd} is not an open file descriptor (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
  if (!stat.isFIFO() && !stat.isSocket()) throw new FlagError(`${source} ${fd} must be a pipe or a socket inherited from the supervisor`);
}

/** Calls `lost` once, when the pipe on `fd` reaches end of file or fails. Does not keep the process alive. */
export function watchLifeline(fd: number, lost: (why: string) => void): Lifeline {
  const pipe = new net.Socket({ fd, readable: true, writable: false, allowHalfOpen: true });
  let done = false;
  const finish = (why: string): void => {
    if (done) return;
    done = true;
    lost(why);
  };
  pipe.on("end", () => finish("end of file"));
  pipe.on("error", (error: NodeJS.ErrnoException) => finish(error.code ?? error.message));
  pipe.on("close", () => finish("closed"));
  // Whatever the supervisor might write is read and dropped: only the end matters.
  pipe.resume();
  pipe.unref();
  return {
    close: () => {
      done = true;
      pipe.destroy();
    },
  };
}
