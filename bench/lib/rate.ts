import { Meter } from "./load";
import { BenchError, now } from "./proc";
import { jain, round } from "./stats";

/** The agent's packet: up to 1500 bytes of payload. */
export const PACKET_BYTES = 1500;

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
  /** Largest |window / target - 1|. */
  readonly worstWindowError: number;
  /** Jain's index over the connections' byte counts in the measured span (1 connection: 1). */
  readonly jain: number;
  readonly connections: number;
  /** Rate over time from the first connection, for the chart: t in seconds, pps. */
  readonly timeline: { t: number; pps: number }[];
}

/**
 * Samples the meter's total every `sampleMs` (each sample stamped with its real time),
 * from now until warm-up plus `windows` seconds, and turns it into rate figures. Windows
 * are 1 second of samples long; their rates use the samples' real time stamps, so timer
 * jitter does not count as rate error.
 */
export function measureRate(meter: Meter, options: RateMeasureOptions): Promise<RateMeasurement> {
  const perSecond = Math.round(1000 / options.sampleMs);
  const samples: { t: number; bytes: number }[] = [];
  let warmedUp = false;
  let warmupSamples = -1;
  let lastSample = Number.POSITIVE_INFINITY;
  if (typeof options.warmup === "number") {
    warmupSamples = Math.max(1, Math.round((options.warmup * 1000) / options.sampleMs));
    lastSample = warmupSamples + options.windows * perSecond;
  } else {
    void options.warmup.then(() => (warmedUp = true));
  }
  let startConn: number[] = [];
  let endConn: number[] = [];
  const marks: Promise<void>[] = [];
  const t0 = now();
  samples.push({ t: t0, bytes: meter.total });
  return new Promise<RateMeasurement>((resolve, reject) => {
    const deadline = setTimeout(
      () => {
        clearInterval(timer);
        reject(new BenchError("TIMEOUT", "rate sampling overran its time"));
      },
      (options.windows * 3 + 30) * 1000,
    );
    const timer = setInterval(() => {
      samples.push({ t: now(), bytes: meter.total });
      const index = samples.length - 1;
      if (warmupSamples < 0 && warmedUp) {
        warmupSamples = index;
        lastSample = warmupSamples + options.windows * perSecond;
      }
      if (index === warmupSamples) {
        startConn = [...meter.perConnection];
        if (options.onMark) marks.push(Promise.resolve(options.onMark("start")));
      }
      if (index === lastSample) {
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
    const a = samples[warmupSamples];
    const b = samples[lastSample];
    const seconds = b.t - a.t;
    const longRunPps = (b.bytes - a.bytes) / PACKET_BYTES / seconds;
    const windowRatios: number[] = [];
    for (let w = 0; w < options.windows; w++) {
      const s = samples[warmupSamples + w * perSecond];
      const e = samples[warmupSamples + (w + 1) * perSecond];
      windowRatios.push((e.bytes - s.bytes) / PACKET_BYTES / (e.t - s.t) / target);
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
      worstWindowError: round(Math.max(...windowRatios.map((r) => Math.abs(r - 1))), 5),
      jain: round(jain(perConn), 6),
      connections: perConn.length,
      timeline,
    };
  }
}
