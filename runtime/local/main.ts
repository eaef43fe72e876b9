import { main } from "./cli";

/** Entry point for `tsx runtime/local/main.ts ...`, the same as `tcp-addon local ...`. */
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`tcp-addon local: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
