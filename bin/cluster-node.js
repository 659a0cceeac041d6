#!/usr/bin/env node
// Shebang shim: the CLI is the one-file bundle dist/cli.bundle.cjs (src/cli/main.ts and
// everything it imports; npm install builds it, scripts/bundle-cli.mjs), which starts
// much faster than the same modules loaded one by one from dist/ and node_modules/.
// It is compiled with V8's code cache, dist/cli.bundle.cache, written by the build:
// about half the CPU of compiling the bundle afresh at every start. V8 rejects a cache
// that does not match the bundle or this Node's V8 (Node upgraded since the build), and
// the bundle is then compiled as usual and the cache written again, best effort.
// The command line may hold --cookie: rename the process before loading anything, so
// that ps and /proc/PID/cmdline show the secret only while Node itself boots (tens of
// milliseconds), not while the CLI's modules load. --cookie-file and
// CLUSTER_NODE_COOKIE keep it off the command line altogether.
const argv = process.argv.slice(2);
process.title = 'cluster-node';
// Start-up trace (bench/startup.ts): Node's own boot ends here, module loading begins.
const trace = process.env.CLUSTER_NODE_STARTUP_TRACE === '1';
if (trace) performance.mark('cluster-node:shim');

const fs = process.getBuiltinModule('node:fs');
const vm = process.getBuiltinModule('node:vm');
const { createRequire, wrap } = process.getBuiltinModule('node:module');
const { fileURLToPath } = process.getBuiltinModule('node:url');
const file = fileURLToPath(new URL('../dist/cli.bundle.cjs', import.meta.url));
const cacheFile = fileURLToPath(new URL('../dist/cli.bundle.cache', import.meta.url));
let cachedData;
try {
  cachedData = fs.readFileSync(cacheFile);
} catch {
  // no cache (yet): compile as usual
}
const script = new vm.Script(wrap(fs.readFileSync(file, 'utf8')), { filename: file, cachedData });
const bundle = { exports: {} };
script.runInThisContext().call(bundle.exports, bundle.exports, createRequire(file), bundle, file, fileURLToPath(new URL('../dist/', import.meta.url)));
const { main } = bundle.exports;
if (trace) performance.mark('cluster-node:loaded');

/** Write what V8 compiled so far as the cache for the next start; a failure only costs speed. */
function writeCache() {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, script.createCachedData());
    fs.renameSync(tmp, cacheFile);
  } catch {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // nothing to clean up
    }
  }
}

const training = process.env.CLUSTER_NODE_WRITE_CODE_CACHE === '1';
// A stale or missing cache: write a fresh one once this start has settled.
if (!training && (cachedData === undefined || script.cachedDataRejected)) setTimeout(writeCache, 2000).unref();

main(argv).then(
  (code) => {
    if (training) writeCache();
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`cluster-node: fatal: ${err && err.message ? err.message : 'unknown error'}\n`);
    process.exitCode = 1;
  },
);
