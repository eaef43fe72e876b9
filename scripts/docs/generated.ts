import { CONFIG_JSON_SCHEMA_PATH, configJsonSchema } from "../../config/json-schema";
import * as path from "node:path";
import { configReferenceMarkdown, type JsonSchema } from "./config-reference";
import { errorsMarkdown, findErrorCodes } from "./errors";

const ROOT = path.resolve(__dirname, "..", "..");

/**
 * Every file of the repository that is written from the code, by path from the root, with its
 * content: `npm run docs:generate` writes them, and a test fails when a checked-in copy differs.
 */
export function generatedFiles(): Record<string, string> {
  const schema = configJsonSchema();
  return {
    [CONFIG_JSON_SCHEMA_PATH]: `${JSON.stringify(schema, null, 2)}\n`,
    "docs/config-reference.md": configReferenceMarkdown(schema as JsonSchema),
    "docs/errors.md": errorsMarkdown(findErrorCodes(ROOT)),
  };
}
