#!/usr/bin/env node
// Shebang shim: the CLI lives in the built library (npm install runs the build).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`cluster-node: fatal: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
