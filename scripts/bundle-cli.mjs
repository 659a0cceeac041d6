// Bundle the CLI: src/cli/main.ts and everything it imports (our modules and the
// runtime dependencies) into one CommonJS script, dist/cli.bundle.cjs, which
// bin/cluster-node.js compiles with V8's code cache (dist/cli.bundle.cache, written here
// by one training start of the CLI). One file instead of some 300 cuts the module
// resolution and loading that dominated start-up, and the code cache spares V8 most of
// compiling it again at every start (see bench/startup.ts). CommonJS because Node 20 has
// no code cache for ES modules; the bundle is evaluated as a plain script, so what is
// imported only on demand (mDNS discovery and multicast-dns, when mDNS is on) is still
// evaluated only then. The library build (dist/index.js, tsc) is untouched: the bundle
// is only what the command runs.
// Invariants: the bundle behaves like dist/cli/main.js run from this package:
// - import.meta.url reads as the bundle's own file URL (our code and yargs' shim use it);
// - msgpackr's optional native accelerator (msgpackr-extract) stays a run-time
//   lookup from the bundle's place, as msgpackr does it, never bundled;
// - yargs finds its translations (LANG=de_DE gives German help as before): they are
//   copied next to the bundle and yargs' one path to them is rewritten; the build
//   fails if that path is not found rather than silently losing them;
// - process.env.NODE_ENV reads as "production" inside the bundle. Only winston's
//   internal diagnostics (@dabh/diagnostics) read it: production skips loading its
//   colour libraries, and DEBUG=* no longer makes winston print its own debug lines
//   into our log stream. Nothing else in the bundle reads NODE_ENV;
// - whitespace and syntax are minified, names are not;
// - the build fails on any esbuild warning, so nothing degrades unnoticed;
// - the code cache is only ever a speed-up: V8 rejects a cache that does not match the
//   source or this Node's V8, and the shim then compiles as usual.
// Usage: node scripts/bundle-cli.mjs (the `build` script runs it after tsc).
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'dist');
const entryOut = 'dist/cli.bundle.cjs';
const cacheOut = join(outdir, 'cli.bundle.cache');
const localesOut = join(outdir, 'yargs-locales');
const yargsShim = /[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/;
const require = createRequire(import.meta.url);
const yargsRoot = dirname(require.resolve('yargs/package.json'));

/** yargs' ESM shim points y18n at ../../../locales from its own file; in the bundle that file is dist/cli.bundle.cjs. */
const yargsLocales = {
  name: 'yargs-locales',
  setup(b) {
    b.onLoad({ filter: yargsShim }, (args) => {
      const from = "resolve(__dirname, '../../../locales')";
      const text = readFileSync(args.path, 'utf8');
      if (text.split(from).length !== 2) {
        return { errors: [{ text: `yargs-locales: expected exactly one ${from} in ${args.path}; yargs changed, update scripts/bundle-cli.mjs` }] };
      }
      return { contents: text.replace(from, "resolve(__dirname, '../yargs-locales')"), loader: 'js' };
    });
  },
};

// Outputs of the earlier ES-module bundle, so nothing stale is left to load.
for (const f of ['cli-chunks', 'cli.bundle.js', 'cli.bundle.js.map']) rmSync(join(outdir, f), { recursive: true, force: true });
rmSync(cacheOut, { force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { 'cli.bundle': 'src/cli/main.ts' },
  outdir,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  define: { 'process.env.NODE_ENV': '"production"', 'import.meta.url': '__clusterNodeImportMetaUrl' },
  // Whitespace and syntax only: a third less for V8 to parse at every start, while
  // every function and class keeps its name (stack traces, .name); the source map
  // maps lines back.
  minifyWhitespace: true,
  minifySyntax: true,
  metafile: true,
  banner: { js: "const __clusterNodeImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  external: ['msgpackr-extract'],
  plugins: [yargsLocales],
  legalComments: 'eof',
  sourcemap: 'linked',
  logLevel: 'silent',
});
if (result.warnings.length > 0 || result.errors.length > 0) {
  for (const m of [...result.errors, ...result.warnings]) process.stderr.write(`bundle-cli: ${m.text}\n`);
  process.exit(1);
}
const entry = result.metafile.outputs[entryOut];
if (!entry || !Object.keys(entry.inputs).some((i) => yargsShim.test(i))) {
  process.stderr.write(`bundle-cli: yargs is not in ${entryOut}, so its translations would not be found; check the chunking\n`);
  process.exit(1);
}
rmSync(localesOut, { recursive: true, force: true });
cpSync(join(yargsRoot, 'locales'), localesOut, { recursive: true });
// The code cache: one start of the CLI (--version: the bundle evaluated, the argument
// parser run) that writes what V8 compiled. Without it the CLI works, only slower.
const training = spawnSync(process.execPath, [join(root, 'bin', 'cluster-node.js'), '--version'], {
  env: { ...process.env, CLUSTER_NODE_WRITE_CODE_CACHE: '1' },
  encoding: 'utf8',
  timeout: 60_000,
});
if (training.status !== 0 || !existsSync(cacheOut)) {
  process.stderr.write(`bundle-cli: the training start did not write ${cacheOut} (exit ${training.status}): ${training.stderr ?? ''}\n`);
  process.exit(1);
}
const outputs = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.cjs'));
process.stdout.write(`bundle-cli: ${outputs.join(', ')}, dist/cli.bundle.cache and dist/yargs-locales/\n`);
