#!/usr/bin/env node
// Builds the optional native linear-algebra backend (native/ → native/build/Release/polyapprox_blas.node),
// an N-API addon over the system OpenBLAS + LAPACKE. This is the package's `install` script and
// `npm run build:native`.
//
// It never fails an install: if a compiler, the headers or the libraries are missing, or the build or
// the post-build load check fails, it prints ONE line to stderr saying how to get the backend and
// exits 0 (the pure-JS backend is used instead). No network access happens: node-gyp is pointed at
// the local Node headers.
//
// Usage: node scripts/build-native.mjs [--verbose] [--strict]
//   --verbose  show the search results and the compiler output
//   --strict   exit 1 instead of 0 when the backend cannot be built
// Environment:
//   POLYAPPROX_SKIP_NATIVE=1           do not build
//   POLYAPPROX_BLAS_INCLUDE_DIR=a:b    extra directories to search for cblas.h / lapacke.h (searched first)
//   POLYAPPROX_BLAS_LIB_DIR=a:b        extra directories to search for libopenblas / liblapacke (searched first)
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const nativeDir = join(root, 'native');
const addonPath = join(nativeDir, 'build', 'Release', 'polyapprox_blas.node');
const args = process.argv.slice(2);
const verbose = args.includes('--verbose');
const strict = args.includes('--strict');
const BUILD_TIMEOUT_MS = 10 * 60 * 1000;

function log(message) {
  if (verbose) process.stderr.write(`build-native: ${message}\n`);
}

/** Prints the single "unavailable" line and exits (0 unless --strict). */
function unavailable(reason) {
  process.stderr.write(
    `polyapprox: native linear-algebra backend unavailable (${reason}); the pure-JS backend will be used. ` +
      'To enable it: apt-get install libopenblas-dev liblapacke-dev, then npm run build:native\n',
  );
  process.exit(strict ? 1 : 0);
}

function splitDirs(value) {
  return (value ?? '').split(':').filter((d) => d.length > 0);
}

function unique(list) {
  return [...new Set(list)];
}

/** Debian/Ubuntu multiarch triplet (e.g. x86_64-linux-gnu), from the compiler or the Node arch. */
function multiarchTriplet() {
  const r = spawnSync(process.env.CC || 'cc', ['-print-multiarch'], { encoding: 'utf8' });
  const fromCompiler = r.status === 0 ? r.stdout.trim() : '';
  if (fromCompiler) return fromCompiler;
  const byArch = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', ppc64: 'powerpc64le-linux-gnu', s390x: 's390x-linux-gnu' };
  return byArch[process.arch] ?? `${process.arch}-linux-gnu`;
}

function firstDirWith(dirs, file, accept = () => true) {
  return dirs.find((d) => existsSync(join(d, file)) && accept(join(d, file)));
}

/** Quotes a path for gyp's shlex-split list variables. */
function shellQuote(s) {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** npm's bundled node-gyp: the one npm told us about, next to this node, next to npm, or a local one. */
function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  const prefix = join(dirname(process.execPath), '..');
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  if (process.env.npm_execpath) {
    candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  try {
    candidates.push(createRequire(join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed locally
  }
  const found = candidates.find((p) => existsSync(p));
  if (found) return found;
  const npmPrefix = spawnSync('npm', ['prefix', '-g'], { encoding: 'utf8', timeout: 30_000 });
  if (npmPrefix.status === 0) {
    const p = join(npmPrefix.stdout.trim(), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** `--nodedir` for node-gyp so it uses the installed Node headers instead of downloading them. */
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return []; // node-gyp reads it from npm's environment itself
  const prefix = join(dirname(process.execPath), '..');
  if (existsSync(join(prefix, 'include', 'node', 'common.gypi')) && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
    return [`--nodedir=${prefix}`];
  }
  return [];
}

/** The most telling line of a failed build's output. */
function failureReason(output) {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const compilerError = lines.find((l) => /\berror\b/i.test(l) && !l.startsWith('gyp'));
  const gypError = lines.filter((l) => l.startsWith('gyp ERR!') && !/(stack|System|command|cwd|node -v|node-gyp -v|not ok)/.test(l))[0];
  const line = compilerError ?? gypError ?? lines.at(-1) ?? 'no output';
  return line.length > 240 ? `${line.slice(0, 237)}...` : line;
}

// A small end-to-end call through the freshly built addon, in a separate process so a crash cannot take
// this script down with it.
const LOAD_CHECK = `
const m = require(process.argv[1]);
const a = new Float64Array([4, 2, 2, 3]);
const c = new Float64Array(4);
m.dgemm(false, true, 2, 2, 2, 1, a, a, 0, c);
if (c[0] !== 20 || c[1] !== 14 || c[3] !== 13) throw new Error('dgemm gave ' + c);
const w = new Float64Array(2);
const info = m.dsyevd(2, a, w);
if (info !== 0 || Math.abs(w[0] + w[1] - 7) > 1e-12) throw new Error('dsyevd gave ' + w + ' info ' + info);
console.log(m.blasInfo().config + ', ' + m.getNumThreads() + ' threads');
`;

function main() {
  if (process.env.POLYAPPROX_SKIP_NATIVE === '1') unavailable('POLYAPPROX_SKIP_NATIVE=1 is set');
  if (!existsSync(join(nativeDir, 'binding.gyp'))) unavailable('native/binding.gyp is missing from this copy of the package');
  if (process.platform !== 'linux') unavailable(`the native build supports Linux only, not ${process.platform}`);

  const cc = spawnSync(process.env.CC || 'cc', ['--version'], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) unavailable(`no C compiler (${process.env.CC || 'cc'}) found`);

  const triplet = multiarchTriplet();
  const userIncludes = splitDirs(process.env.POLYAPPROX_BLAS_INCLUDE_DIR);
  const userLibs = splitDirs(process.env.POLYAPPROX_BLAS_LIB_DIR);
  const openblasIncludeDirs = [
    ...userIncludes,
    `/usr/include/${triplet}/openblas-pthread`,
    `/usr/include/${triplet}/openblas-openmp`,
    `/usr/include/${triplet}/openblas-serial`,
    '/usr/include/openblas',
    `/usr/include/${triplet}`,
    '/usr/include',
    '/usr/local/include',
    '/opt/OpenBLAS/include',
  ];
  const lapackeIncludeDirs = [
    ...userIncludes,
    '/usr/include',
    `/usr/include/${triplet}`,
    '/usr/include/openblas',
    '/usr/local/include',
    '/opt/OpenBLAS/include',
  ];
  const libDirs = [...userLibs, `/usr/lib/${triplet}`, `/lib/${triplet}`, '/usr/lib64', '/usr/lib', '/usr/local/lib', '/opt/OpenBLAS/lib'];
  const defaultIncludeDirs = new Set(['/usr/include', '/usr/local/include', `/usr/include/${triplet}`]);
  const defaultLibDirs = new Set([`/usr/lib/${triplet}`, `/lib/${triplet}`, '/usr/lib', '/lib']);

  // Prefer OpenBLAS's own cblas.h (it declares openblas_set_num_threads); any cblas.h will compile.
  const isOpenblasHeader = (p) => readFileSync(p, 'utf8').includes('openblas_set_num_threads');
  const cblasDir = firstDirWith(openblasIncludeDirs, 'cblas.h', isOpenblasHeader) ?? firstDirWith(openblasIncludeDirs, 'cblas.h');
  const lapackeDir = firstDirWith(lapackeIncludeDirs, 'lapacke.h');
  const openblasLibDir = firstDirWith(libDirs, 'libopenblas.so');
  const lapackeLibDir = firstDirWith(libDirs, 'liblapacke.so');
  log(`cblas.h in ${cblasDir}, lapacke.h in ${lapackeDir}, libopenblas in ${openblasLibDir}, liblapacke in ${lapackeLibDir}`);
  const missing = [
    cblasDir ? null : 'cblas.h',
    lapackeDir ? null : 'lapacke.h',
    openblasLibDir ? null : 'libopenblas.so',
  ].filter(Boolean);
  if (missing.length > 0) unavailable(`${missing.join(', ')} not found`);

  const includeDirs = unique([cblasDir, lapackeDir].filter((d) => !defaultIncludeDirs.has(d)));
  const linkDirs = unique([openblasLibDir, lapackeLibDir].filter((d) => d && !defaultLibDirs.has(d)));
  const ldflags = linkDirs.flatMap((d) => [`-L${d}`, `-Wl,-rpath,${d}`]);
  // Upstream OpenBLAS builds contain LAPACKE; Debian ships it separately as liblapacke.
  const libraries = lapackeLibDir ? ['-lopenblas', '-llapacke'] : ['-lopenblas'];

  const nodeGyp = findNodeGyp();
  if (!nodeGyp) unavailable("npm's node-gyp was not found");
  log(`node-gyp: ${nodeGyp}`);

  const gypArgs = [
    nodeGyp,
    'rebuild',
    ...nodedirArgs(),
    ...(verbose ? [] : ['--silent']),
    '--',
    `-Dblas_include_dirs=${includeDirs.map(shellQuote).join(' ')}`,
    `-Dblas_ldflags=${ldflags.map(shellQuote).join(' ')}`,
    `-Dblas_libraries=${libraries.join(' ')}`,
  ];
  log(`running: ${process.execPath} ${gypArgs.join(' ')}`);
  const build = spawnSync(process.execPath, gypArgs, {
    cwd: nativeDir,
    stdio: verbose ? 'inherit' : 'pipe',
    encoding: 'utf8',
    timeout: BUILD_TIMEOUT_MS,
  });
  if (build.error || build.status !== 0 || !existsSync(addonPath)) {
    const output = `${build.stdout ?? ''}\n${build.stderr ?? ''}`;
    const reason = build.error ? build.error.message : verbose ? `node-gyp exited with status ${build.status}` : failureReason(output);
    rmSync(join(nativeDir, 'build'), { recursive: true, force: true });
    unavailable(`build failed: ${reason}`);
  }

  const check = spawnSync(process.execPath, ['-e', LOAD_CHECK, addonPath], { encoding: 'utf8', timeout: 60_000 });
  if (check.error || check.status !== 0) {
    const reason = check.error ? check.error.message : failureReason(check.stderr ?? '');
    rmSync(join(nativeDir, 'build'), { recursive: true, force: true });
    unavailable(`the built addon failed its load check: ${reason}`);
  }
  process.stdout.write(`polyapprox: native backend built: ${relative(root, addonPath)} (${check.stdout.trim()})\n`);
}

main();
