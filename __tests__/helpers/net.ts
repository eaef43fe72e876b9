import { freePort as freePortOn } from "../../runtime/agent/app-process";

/** Test helpers for sockets and time, in one place for every suite. */

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return freePortOn("127.0.0.1");
}

/** Resolves after `ms`; only for measurement windows and polling loops bounded in count. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
