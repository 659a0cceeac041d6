#!/usr/bin/env node
// Shebang shim: the CLI is the one-file bundle dist/cli.bundle.js (src/cli/main.ts and
// everything it imports; npm install builds it, scripts/bundle-cli.mjs), which starts
// much faster than the same modules loaded one by one from dist/ and node_modules/.
// The command line may hold --cookie: rename the process before loading anything, so
// that ps and /proc/PID/cmdline show the secret only while Node itself boots (tens of
// milliseconds), not while the CLI's modules load. --cookie-file and
// CLUSTER_NODE_COOKIE keep it off the command line altogether.
const argv = process.argv.slice(2);
process.title = 'cluster-node';
// Start-up trace (bench/startup.ts): Node's own boot ends here, module loading begins.
if (process.env.CLUSTER_NODE_STARTUP_TRACE === '1') performance.mark('cluster-node:shim');
const { main } = await import('../dist/cli.bundle.js');
if (process.env.CLUSTER_NODE_STARTUP_TRACE === '1') performance.mark('cluster-node:loaded');

main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`cluster-node: fatal: ${err && err.message ? err.message : 'unknown error'}\n`);
    process.exitCode = 1;
  },
);
