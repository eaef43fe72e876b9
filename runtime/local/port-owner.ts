import * as fs from "node:fs";

/** A process that listens on a loopback TCP port, as /proc shows it. */
export interface PortOwner {
  readonly pid: number;
  /** Its command line, arguments joined by spaces. */
  readonly command: string;
}

/**
 * Who listens on 127.0.0.1:<port> (or on any address at that port), from /proc/net/tcp
 * and each process's open fds. Linux only; undefined elsewhere or when it cannot be seen.
 */
export function portOwner(port: number): PortOwner | undefined {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return undefined;
  let entries: string[];
  try {
    entries = fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = fs.readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
      if (inode === undefined || !inodes.has(inode)) continue;
      let command = "";
      try {
        command = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
      } catch {
        // gone meanwhile
      }
      return { pid: Number(entry), command };
    }
  }
  return undefined;
}

/** Inodes of sockets in LISTEN state (0A) on `port`, IPv4 and IPv6. */
function listeningInodes(port: number): Set<string> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const found = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = fs.readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[1].endsWith(`:${hexPort}`) && f[3] === "0A") found.add(f[9]);
    }
  }
  return found;
}

/**
 * Why a port is taken, in words, when an earlier local mode (or one of its replicas) holds
 * it; undefined for any other owner.
 */
export function earlierRunHolding(port: number): string | undefined {
  const owner = portOwner(port);
  if (owner === undefined) return undefined;
  if (/tcp-addon-agent/.test(owner.command)) {
    return `held by a replica of an earlier tcp-addon local (agent pid ${owner.pid}); stop it and its app with: kill -- -${owner.pid}`;
  }
  if (/runtime\/local\/main\.ts|tcp-addon(\.js)? local/.test(owner.command)) {
    return `held by an earlier tcp-addon local that still runs (pid ${owner.pid}); stop it with: kill ${owner.pid}`;
  }
  return undefined;
}
