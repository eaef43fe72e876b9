import fc from "fast-check";
import { ProcfileError } from "../../config/errors";
import { parseProcfile } from "../../config/procfile";

/** Fuzzing the Procfile parser: whatever the text, it returns a map or throws its own error. */

const FILE = "apps/x/Procfile";

/** Parses `text`, returning the map or the ProcfileError; anything else thrown fails the test. */
function outcome(text: string, requireTcp = false): Map<string, string> | ProcfileError {
  try {
    return parseProcfile(text, FILE, { requireTcp });
  } catch (err) {
    if (err instanceof ProcfileError) return err;
    throw err;
  }
}

const anyText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 400 }),
  fc.string({ unit: "grapheme", maxLength: 400 }),
  // Procfile-shaped noise: names, colons, comments and line ends in every order
  fc
    .array(fc.constantFrom("tcp", "web", ":", " ", "\t", "#", "\n", "\r\n", "\r", "node server.js", "-", "_", "é", "\u2028", "\ufeff"), {
      maxLength: 60,
    })
    .map((parts) => parts.join("")),
);

it("never throws anything but a ProcfileError, whatever the text", () => {
  fc.assert(
    fc.property(anyText, fc.boolean(), (text, requireTcp) => {
      const result = outcome(text, requireTcp);
      expect(result instanceof Map || result instanceof ProcfileError).toBe(true);
    }),
    { numRuns: 1000 },
  );
});

it("reports every problem of any text as one line starting with the file name", () => {
  fc.assert(
    fc.property(anyText, (text) => {
      const result = outcome(text, true);
      if (result instanceof Map) return;
      expect(result.code).toBe("TCP_ADDON_PROCFILE_INVALID");
      for (const issue of result.issues) {
        expect(issue.startsWith(`${FILE}:`)).toBe(true);
        expect(issue).not.toMatch(/[\r\n]/);
      }
    }),
    { numRuns: 1000 },
  );
});

/** A command as it survives parsing: one line, non-empty, no surrounding whitespace. */
const command = fc
  .string({ unit: "grapheme", minLength: 1, maxLength: 40 })
  .map((s) => s.replace(/[\r\n\u2028\u2029\u0085]/g, " ").trim())
  .filter((s) => s !== "");
const processName = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);
const lineEnd = fc.constantFrom("\n", "\r\n");
const noise = fc.constantFrom("", "# a comment", "   ", "#tcp: not this one", "\t# indented comment");

const procfile = fc
  .uniqueArray(fc.tuple(processName, command), { minLength: 1, maxLength: 8, selector: ([name]) => name })
  .chain((entries) =>
    fc
      .tuple(
        fc.array(fc.tuple(noise, fc.constantFrom("", " ", "\t"), fc.constantFrom(":", ": ", ":\t", ":   ")), {
          minLength: entries.length,
          maxLength: entries.length,
        }),
        lineEnd,
        fc.boolean(),
      )
      .map(([decorations, eol, trailingEol]) => {
        const lines: string[] = [];
        entries.forEach(([name, cmd], i) => {
          const [comment, indent, colon] = decorations[i]!;
          if (comment !== "") lines.push(comment);
          lines.push(`${indent}${name}${colon}${cmd}`);
        });
        return { entries, text: lines.join(eol) + (trailingEol ? eol : "") };
      }),
  );

it("reads back every generated valid Procfile exactly, in order", () => {
  fc.assert(
    fc.property(procfile, ({ entries, text }) => {
      expect([...parseProcfile(text, FILE).entries()]).toEqual(entries);
    }),
    { numRuns: 500 },
  );
});

it("refuses a generated Procfile that repeats a process name, naming both lines", () => {
  fc.assert(
    fc.property(procfile, command, ({ entries, text }, again) => {
      const [name] = entries[0]!;
      const result = outcome(`${text}\n${name}: ${again}\n`);
      expect(result).toBeInstanceOf(ProcfileError);
      expect((result as ProcfileError).issues.some((i) => i.includes(`duplicate process "${name}"`))).toBe(true);
    }),
    { numRuns: 200 },
  );
});

it("refuses a generated Procfile without a tcp process when one is required", () => {
  fc.assert(
    fc.property(
      procfile.filter(({ entries }) => !entries.some(([name]) => name === "tcp")),
      ({ text }) => {
        const result = outcome(text, true);
        expect(result).toBeInstanceOf(ProcfileError);
        expect((result as ProcfileError).issues).toContain(`${FILE}: no "tcp" process; add a line like "tcp: node server.js"`);
      },
    ),
    { numRuns: 200 },
  );
});
