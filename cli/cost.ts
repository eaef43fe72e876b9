import { loadConfig, type TaskSize } from "../config";
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
} from "../config/cost";
import { CONFIG_ENV, CONFIG_OPTION, configFile, EXIT_OK, stringFlag, table, UsageError, type CliCommand } from "./command";

/**
 * `tcp-addon cost`: the monthly estimate, per app and in total, of every resource the config's
 * stack declares that AWS bills, at the list prices in the price file for the config's region
 * (offline; each price is dated and sourced there). Prints the assumptions it makes.
 */
export const cost: CliCommand = {
  summary: `monthly AWS estimate per app and in total, offline, from the dated prices in ${PRICES_FILE}`,
  options: [
    CONFIG_OPTION,
    { name: "traffic", value: "PERCENT", description: "each container's traffic, each direction, as a share of its plan's full rate (default 25)" },
    { name: "nat-gateways", value: "N", description: "NAT gateways of the created VPC (default: the config's network.natGateways, 1 or one per zone)" },
    { name: "hours", value: "N", description: "hours in a month (default 730)" },
  ],
  env: [CONFIG_ENV],
  notes: ["Exit codes: 0 ok, 1 invalid config or a region without prices, 2 usage error."],
  run: (args, io) => {
    const config = loadConfig(configFile(stringFlag(args, "config"), io));
    const prices = regionPrices(loadPrices(), config.region);
    const traffic = stringFlag(args, "traffic");
    const natGateways = stringFlag(args, "nat-gateways");
    const hours = stringFlag(args, "hours");
    const overrides = {
      ...(traffic === undefined ? {} : { trafficShare: numberFlag(traffic, "--traffic", 0, 100) / 100 }),
      ...(natGateways === undefined ? {} : { natGateways: numberFlag(natGateways, "--nat-gateways", 0, 6, true) }),
      ...(hours === undefined ? {} : { hoursPerMonth: numberFlag(hours, "--hours", 1, 744) }),
    };
    for (const line of costReport(estimateCost(config, prices, defaultAssumptions(config, overrides)))) io.out(line);
    return EXIT_OK;
  },
};

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
