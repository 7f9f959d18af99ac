// Parse Mermaid diagrams with Mermaid's own parser (npm package "mermaid", DOM from "jsdom").
// usage: node mermaid_parse.mjs NODE_PREFIX < JSON list of diagram texts
// Prints a JSON list with, per diagram, {ok: true, type} or {ok: false, error}; exit 0 even when a
// diagram is rejected (the caller decides), 2 when the parser itself cannot run.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

async function main() {
  const prefix = process.argv[2];
  const require = createRequire(path.join(prefix, "package.json"));
  const { JSDOM } = require("jsdom");
  // Mermaid sanitises titles with DOMPurify, which needs a window.
  const dom = new JSDOM("<!doctype html><html><body></body></html>");
  globalThis.window = dom.window;
  globalThis.document = dom.window.document;
  const entry = path.join(prefix, "node_modules", "mermaid", "dist", "mermaid.core.mjs");
  const mermaid = (await import(pathToFileURL(entry).href)).default;
  const texts = JSON.parse(readFileSync(0, "utf8"));
  const results = [];
  for (const text of texts) {
    try {
      const parsed = await mermaid.parse(text);
      results.push({ ok: true, type: parsed.diagramType });
    } catch (err) {
      results.push({ ok: false, error: String((err && err.message) || err) });
    }
  }
  process.stdout.write(JSON.stringify(results));
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(String((err && err.stack) || err) + "\n");
    process.exit(2);
  },
);
