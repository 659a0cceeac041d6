#!/usr/bin/env node
// Shebang shim: the CLI lives in the built library (npm install runs the build).
// The command line may hold --cookie: rename the process before loading anything, so
// that ps and /proc/PID/cmdline show the secret only while Node itself boots (tens of
// milliseconds), not while the CLI's modules load. --cookie-file and
// CLUSTER_NODE_COOKIE keep it off the command line altogether.
const argv = process.argv.slice(2);
process.title = 'cluster-node';
const { main } = await import('../dist/cli/main.js');

main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`cluster-node: fatal: ${err && err.message ? err.message : 'unknown error'}\n`);
    process.exitCode = 1;
  },
);
