// Bundle the CLI: src/cli/main.ts and everything it imports (our modules and the
// runtime dependencies) into one ES module, dist/cli.bundle.js, which bin/cluster-node.js
// loads. One file instead of some 300 cuts the module resolution and loading that
// dominated start-up (see bench/startup.ts). What the CLI imports only on demand (mDNS
// discovery and multicast-dns, loaded when mDNS is on) goes to a chunk of its own in
// dist/cli-chunks/, so a start without it does not even compile it. The library build
// (dist/index.js, tsc) is untouched: the bundle is only what the command runs.
// Invariants: the bundle behaves like dist/cli/main.js run from this package:
// - `require` exists (bundled CommonJS dependencies call it for Node built-ins);
// - msgpackr's optional native accelerator (msgpackr-extract) stays a run-time
//   lookup from the bundle's place, as msgpackr does it, never bundled;
// - yargs finds its translations (LANG=de_DE gives German help as before): they are
//   copied next to the bundle and yargs' one path to them is rewritten; the build
//   fails if that path is not found, or if yargs does not land in the entry file
//   (the rewritten path is relative to it), rather than silently losing them;
// - process.env.NODE_ENV reads as "production" inside the bundle. Only winston's
//   internal diagnostics (@dabh/diagnostics) read it: production skips loading its
//   colour libraries, and DEBUG=* no longer makes winston print its own debug lines
//   into our log stream. Nothing else in the bundle reads NODE_ENV;
// - whitespace and syntax are minified, names are not;
// - the build fails on any esbuild warning, so nothing degrades unnoticed.
// Usage: node scripts/bundle-cli.mjs (the `build` script runs it after tsc).
import { build } from 'esbuild';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'dist');
const entryOut = 'dist/cli.bundle.js';
const chunkDir = 'cli-chunks';
const localesOut = join(outdir, 'yargs-locales');
const yargsShim = /[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/;
const require = createRequire(import.meta.url);
const yargsRoot = dirname(require.resolve('yargs/package.json'));

/** yargs' ESM shim points y18n at ../../../locales from its own file; in the bundle that file is dist/cli.bundle.js. */
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

rmSync(join(outdir, chunkDir), { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { 'cli.bundle': 'src/cli/main.ts' },
  outdir,
  splitting: true,
  chunkNames: `${chunkDir}/[name]-[hash]`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  define: { 'process.env.NODE_ENV': '"production"' },
  // Whitespace and syntax only: a third less for V8 to parse at every start, while
  // every function and class keeps its name (stack traces, .name); the source map
  // maps lines back.
  minifyWhitespace: true,
  minifySyntax: true,
  metafile: true,
  // Bundled CommonJS code (winston, its helpers) requires Node built-ins.
  banner: { js: "import { createRequire as __clusterNodeCreateRequire } from 'node:module';\nconst require = __clusterNodeCreateRequire(import.meta.url);" },
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
const outputs = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'));
process.stdout.write(`bundle-cli: ${outputs.join(', ')} and dist/yargs-locales/\n`);
