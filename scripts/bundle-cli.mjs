// Bundle the CLI: src/cli/main.ts and everything it imports (our modules and the
// runtime dependencies) into one ES module, dist/cli.bundle.js, which bin/cluster-node.js
// loads. One file instead of some 300 cuts the module resolution and loading that
// dominated start-up (see bench/startup.ts). The library build (dist/index.js, tsc)
// is untouched: this bundle is only what the command runs.
// Invariants: the bundle behaves like dist/cli/main.js run from this package:
// - `require` exists (bundled CommonJS dependencies call it for Node built-ins);
// - msgpackr's optional native accelerator (msgpackr-extract) stays a run-time
//   lookup from the bundle's place, as msgpackr does it, never bundled;
// - yargs finds its translations (LANG=de_DE gives German help as before): they are
//   copied next to the bundle and yargs' one path to them is rewritten; the build
//   fails if that path is not found, rather than silently losing them;
// - the build fails on any esbuild warning, so nothing degrades unnoticed.
// Usage: node scripts/bundle-cli.mjs (the `build` script runs it after tsc).
import { build } from 'esbuild';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outfile = join(root, 'dist', 'cli.bundle.js');
const localesOut = join(root, 'dist', 'yargs-locales');
const require = createRequire(import.meta.url);
const yargsRoot = dirname(require.resolve('yargs/package.json'));

/** yargs' ESM shim points y18n at ../../../locales from its own file; in the bundle that file is dist/cli.bundle.js. */
const yargsLocales = {
  name: 'yargs-locales',
  setup(b) {
    b.onLoad({ filter: /[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/ }, (args) => {
      const from = "resolve(__dirname, '../../../locales')";
      const text = readFileSync(args.path, 'utf8');
      if (text.split(from).length !== 2) {
        return { errors: [{ text: `yargs-locales: expected exactly one ${from} in ${args.path}; yargs changed, update scripts/bundle-cli.mjs` }] };
      }
      return { contents: text.replace(from, "resolve(__dirname, '../yargs-locales')"), loader: 'js' };
    });
  },
};

const result = await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
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
rmSync(localesOut, { recursive: true, force: true });
cpSync(join(yargsRoot, 'locales'), localesOut, { recursive: true });
process.stdout.write(`bundle-cli: ${outfile.slice(root.length)} (and ${localesOut.slice(root.length)}/)\n`);
