// build-wasm.mjs — compiles the C evaluation core to dist/sidekick.wasm (clang, lld, wasi-libc).
//
// The core's sources are compiled in place from evalcore/src (no copy) beside one wasm-only
// allocator shim. wasm32-wasi gives malloc; the reactor model has no main and `_initialize` runs
// the constructors. `make build-browser` and the package's `prepare` both call this script, so the
// flags live in one place.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const coreDir = path.resolve(packageDir, '../../evalcore');
export const WASM_OUTPUT = path.join(packageDir, 'dist', 'sidekick.wasm');

const CFLAGS = [
  '--target=wasm32-wasi', '-mexec-model=reactor', '-std=c11', '-O2', '-flto',
  '-D_POSIX_C_SOURCE=200809L', '-Wall', '-Wextra', '-Wpedantic', '-Werror',
];
const LDFLAGS = ['-Wl,--strip-all', '-Wl,--gc-sections', '-Wl,-z,stack-size=65536'];

export function buildWasm() {
  if (!existsSync(path.join(coreDir, 'src'))) {
    throw new Error(
      `the evaluation core's sources are not at ${coreDir}: build from a checkout of the Sidekick repository`,
    );
  }
  const sources = readdirSync(path.join(coreDir, 'src'))
    .filter((name) => name.endsWith('.c'))
    .sort()
    .map((name) => path.join(coreDir, 'src', name));
  mkdirSync(path.dirname(WASM_OUTPUT), { recursive: true });
  const compiler = process.env.WASM_CC || 'clang';
  const args = [
    ...CFLAGS, `-I${path.join(coreDir, 'include')}`, ...LDFLAGS,
    '-o', WASM_OUTPUT, ...sources, path.join(packageDir, 'src', 'wasm_memory.c'),
  ];
  try {
    execFileSync(compiler, args, { stdio: 'inherit' });
  } catch (error) {
    throw new Error(
      `${compiler} could not build the wasm core (${error.message}); it needs clang, lld and ` +
        'wasi-libc (Debian: scripts/install-system-deps.sh wasm)',
    );
  }
  console.log(`built ${path.relative(packageDir, WASM_OUTPUT)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) buildWasm();
