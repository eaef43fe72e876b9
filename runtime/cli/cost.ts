import * as path from "node:path";
import { parseArgs } from "node:util";
import { configPath, loadConfig, type TaskSize } from "../../config";
import {
  defaultAssumptions,
  estimateCost,
  formatUsd,
  loadPrices,
  PRICES_FILE,
  regionPrices,
  taskMonthly,
  type CostEstimate,
  type PriceFile,
} from "../../config/cost";
import { table, UsageError, type CliIo } from "./main";

/** `tcp-addon cost --help`. */
export const COST_USAGE = `Usage: tcp-addon cost [--config FILE] [--traffic PERCENT] [--nat-gateways N] [--hours N]

The monthly estimate, per app and in total, of every resource the config's stack declares that
AWS bills, at the list prices in ${PRICES_FILE} for the config's region (offline; each price is
dated and sourced in that file). Prints the assumptions it makes.

Options:
  --config FILE       the config (default: $TCP_ADDON_CONFIG, else tcp-addon.yaml)
  --traffic PERCENT   each container's traffic, each direction, as a share of its plan's full
                      rate (default 25)
  --nat-gateways N    NAT gateways of the created VPC (default 1; 2 for one per zone)
  --hours N           hours in a month (default 730)

Exit codes: 0 ok, 1 invalid config or a region without prices, 2 usage error.`;

export function cost(args: string[], io: CliIo): number {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: "string" },
      traffic: { type: "string" },
      "nat-gateways": { type: "string" },
      hours: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help === true) {
    io.out(COST_USAGE);
    return 0;
  }
  const config = loadConfig(values.config === undefined ? configPath(io.env, io.cwd) : path.resolve(io.cwd, values.config));
  const prices = regionPrices(loadPrices(), config.region);
  const overrides = {
    ...(values.traffic === undefined ? {} : { trafficShare: numberFlag(values.traffic, "--traffic", 0, 100) / 100 }),
    ...(values["nat-gateways"] === undefined ? {} : { natGateways: numberFlag(values["nat-gateways"], "--nat-gateways", 0, 6, true) }),
    ...(values.hours === undefined ? {} : { hoursPerMonth: numberFlag(values.hours, "--hours", 1, 744) }),
  };
  for (const line of costReport(estimateCost(config, prices, defaultAssumptions(config, overrides)))) io.out(line);
  return 0;
}

/** The estimate as printed: the assumptions, one table of lines by app, the totals. */
export function costReport(estimate: CostEstimate): string[] {
  const a = estimate.assumptions;
  const out = [
    `Monthly estimate in ${estimate.region}, USD list prices from ${PRICES_FILE} (no free tier, no Savings Plans, no tax)`,
    `Assumptions: ${a.hoursPerMonth} hours a month; traffic ${round(a.trafficShare * 100)} % of each plan's full rate each way, all month;`,
    `  ${a.natGateways} NAT gateway(s), ${a.zones} zones; per task ${a.natGbPerTask} GB through NAT and ${a.logGbPerTask} GB of logs a month;`,
    `  ECR keeps ${a.ecrImages} agent images of ${a.ecrImageGb} GB per architecture; GB = 2^30 bytes; scaled apps at their minimum;`,
    "  data out at the first-10-TB rate (cheaper tiers above it not applied); tasks spread evenly over the zones.",
    "",
  ];
  const rows = estimate.lines.map((l) => [l.scope, l.item, `${round(l.quantity)} ${l.unit}`, `x ${l.unitPrice}`, formatUsd(l.monthly)]);
  out.push(...table([["scope", "item", "quantity", "unit price", "monthly"], ...rows], [false, false, true, false, true]));
  out.push("");
  for (const [app, usd] of Object.entries(estimate.perApp)) out.push(`${app}: ${formatUsd(usd)}`);
  out.push(`project (shared): ${formatUsd(estimate.project)}`);
  out.push(`total: ${formatUsd(estimate.total)} a month`);
  return out;
}

/** The `plans` table's cell: a task of the plan's size all month, on-demand x86, in `region` (undefined: no prices there). */
export function planMonthlyCell(size: TaskSize | undefined, region: string, prices: PriceFile = loadPrices()): string {
  const regional = prices.regions[region]?.prices;
  if (size === undefined) return "-";
  if (regional === undefined) return "no prices";
  return formatUsd(taskMonthly(size, regional));
}

function numberFlag(text: string, flag: string, min: number, max: number, integer = false): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new UsageError(`${flag} expects ${integer ? "a whole number" : "a number"} from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

function round(n: number): string {
  return Number(n.toFixed(3)).toLocaleString("en-US");
}
