import { z } from "zod";
import { AddonConfigSchema, SpotPercentSchema } from "./schema";

/** Where the package ships the JSON Schema of the config file, relative to the package root. */
export const CONFIG_JSON_SCHEMA_PATH = "schema/tcp-addon.schema.json";

/**
 * The JSON Schema (draft-07) of `tcp-addon.yaml`, made by zod from the config schema itself: the
 * keys, types, defaults, ranges, patterns and descriptions of the file as written (`io: "input"`:
 * a key with a default may be left out). Rules that span several keys (`superRefine`, `refine`)
 * have no JSON Schema form and are left to `tcp-addon validate`.
 */
export function configJsonSchema(): Record<string, unknown> {
  // draft-07: the draft the YAML language server and VS Code's JSON support read in full.
  const generated = z.toJSONSchema(AddonConfigSchema, {
    io: "input",
    target: "draft-7",
    // A Spot share is read before it is checked ("70%" becomes 70): as written, it is either form.
    override: (ctx) => {
      if (ctx.zodSchema !== SpotPercentSchema) return;
      const description = ctx.jsonSchema.description;
      for (const key of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as Record<string, unknown>)[key];
      Object.assign(ctx.jsonSchema, {
        ...(description === undefined ? {} : { description }),
        anyOf: [
          { type: "integer", minimum: 0, maximum: 100 },
          { type: "string", pattern: "^(100|[1-9]?[0-9])%$" },
        ],
      });
    },
  }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    title: "tcp-addon.yaml",
    description: "The config file of tcp-addon: the project and its apps. Rules that span several keys are checked by `tcp-addon validate`.",
    ...rest,
  };
}
