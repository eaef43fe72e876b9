import { PACKET_BYTES } from "../../runtime/agent/contract";
import { Meter } from "./load";
import { BenchError, now } from "./proc";
import { jain, round } from "./stats";

export { PACKET_BYTES };

export interface RateMeasureOptions {
  readonly pps: number;
  /**
   * Left out before the first window, so that the bucket's initial burst is not measured:
   * a number of seconds, or a promise that resolves when the measured span may begin.
   */
  readonly warmup: number | Promise<unknown>;
  /** Number of 1-second windows measured after the warm-up. */
  readonly windows: number;
  /** Timeline resolution (the chart's). */
  readonly sampleMs: number;
  /** Called at the start and end of the measured span (after warm-up), e.g. to read counters. */
  readonly onMark?: (mark: "start" | "end") => void | Promise<void>;
}

export interface RateMeasurement {
  readonly targetPps: number;
  /** Measured seconds after warm-up. */
  readonly seconds: number;
  /** Seconds from the first sample to the start of the measured span. */
  readonly warmupSeconds: number;
  /** Received bytes / 1500 per second over the whole measured span. */
  readonly longRunPps: number;
  /** longRunPps / target. */
  readonly longRunRatio: number;
  /** Each 1-second window's rate / target. */
  readonly windowRatios: number[];
  readonly worstWindowRatio: number;
  readonly bestWindowRatio: number;
  /** Longest window in seconds (over 1 when the event loop ran late). */
  readonly longestWindowSeconds: number;
  /** Largest |window / target - 1|. */
  readonly worstWindowError: number;
  /** Jain's index over the connections' byte counts in the measured span (1 connection: 1). */
  readonly jain: number;
  readonly connections: number;
  /** Rate over time from the first connection, for the chart: t in seconds, pps. */
  readonly timeline: { t: number; pps: number }[];
}

/**
 * Samples the meter's total every `sampleMs` (each sample stamped with its real time)
 * from now until the warm-up is over and `windows` seconds more have passed, and turns it
 * into rate figures. A window runs from the first sample at or after its start to the
 * first at or after its end; rates use the samples' real time stamps, so timer jitter
 * and a late event loop do not count as rate error.
 */
export function measureRate(meter: Meter, options: RateMeasureOptions): Promise<RateMeasurement> {
  const samples: { t: number; bytes: number }[] = [];
  const t0 = now();
  let warmedUp = false;
  if (typeof options.warmup === "number") {
    const seconds = options.warmup;
    setTimeout(() => (warmedUp = true), seconds * 1000).unref();
  } else {
    void options.warmup.then(() => (warmedUp = true));
  }
  /** Index of the sample that starts window k (k = 0..windows; the last one ends the span). */
  const boundaries: number[] = [];
  let startConn: number[] = [];
  let endConn: number[] = [];
  const marks: Promise<void>[] = [];
  samples.push({ t: t0, bytes: meter.total });
  return new Promise<RateMeasurement>((resolve, reject) => {
    const deadline = setTimeout(
      () => {
        clearInterval(timer);
        reject(new BenchError("TIMEOUT", "rate sampling overran its time"));
      },
      (options.windows * 3 + 40) * 1000,
    );
    const timer = setInterval(() => {
      const sample = { t: now(), bytes: meter.total };
      samples.push(sample);
      const index = samples.length - 1;
      if (!warmedUp) return;
      if (boundaries.length === 0) {
        boundaries.push(index);
        startConn = [...meter.perConnection];
        if (options.onMark) marks.push(Promise.resolve(options.onMark("start")));
        return;
      }
      const spanStart = samples[boundaries[0]].t;
      if (sample.t - spanStart < boundaries.length - 1e-3) return;
      boundaries.push(index);
      if (boundaries.length === options.windows + 1) {
        endConn = [...meter.perConnection];
        if (options.onMark) marks.push(Promise.resolve(options.onMark("end")));
        clearInterval(timer);
        clearTimeout(deadline);
        Promise.all(marks).then(() => resolve(summarize()), reject);
      }
    }, options.sampleMs);
  });

  function summarize(): RateMeasurement {
    const target = options.pps;
    const a = samples[boundaries[0]];
    const b = samples[boundaries[options.windows]];
    const seconds = b.t - a.t;
    const longRunPps = (b.bytes - a.bytes) / PACKET_BYTES / seconds;
    const windowRatios: number[] = [];
    let longest = 0;
    for (let w = 0; w < options.windows; w++) {
      const s = samples[boundaries[w]];
      const e = samples[boundaries[w + 1]];
      windowRatios.push((e.bytes - s.bytes) / PACKET_BYTES / (e.t - s.t) / target);
      longest = Math.max(longest, e.t - s.t);
    }
    const perConn = endConn.map((v, i) => v - (startConn[i] ?? 0));
    const timeline: { t: number; pps: number }[] = [];
    for (let i = 1; i < samples.length; i++) {
      const dt = samples[i].t - samples[i - 1].t;
      timeline.push({
        t: round(samples[i].t - t0, 4),
        pps: round((samples[i].bytes - samples[i - 1].bytes) / PACKET_BYTES / dt, 4),
      });
    }
    return {
      targetPps: target,
      seconds: round(seconds, 4),
      warmupSeconds: round(a.t - t0, 4),
      longRunPps: round(longRunPps, 6),
      longRunRatio: round(longRunPps / target, 6),
      windowRatios: windowRatios.map((r) => round(r, 5)),
      worstWindowRatio: round(Math.min(...windowRatios), 5),
      bestWindowRatio: round(Math.max(...windowRatios), 5),
      longestWindowSeconds: round(longest, 4),
      worstWindowError: round(Math.max(...windowRatios.map((r) => Math.abs(r - 1))), 5),
      jain: round(jain(perConn), 6),
      connections: perConn.length,
      timeline,
    };
  }
}
