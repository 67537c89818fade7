// build-addon.mjs — compiles the Node-API addon from the C core's sources, offline.
//
// A plain compiler call instead of node-gyp: the Node-API headers ship with Node itself
// (<prefix>/include/node), so nothing is downloaded, and the core's sources are compiled in place
// from evalcore/src (never copied). Output: build/sidekick.node.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const coreDir = path.resolve(packageDir, '../../evalcore');

function nodeIncludeDir() {
  const candidates = [
    process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, 'include/node'),
    path.resolve(path.dirname(process.execPath), '../include/node'),
    '/usr/include/node',
  ].filter(Boolean);
  const found = candidates.find((dir) => existsSync(path.join(dir, 'node_api.h')));
  if (!found) {
    throw new Error(`node_api.h not found in: ${candidates.join(', ')}; set npm_config_nodedir`);
  }
  return found;
}

if (!existsSync(path.join(coreDir, 'src'))) {
  // Packed on its own (npm pack, install-links) the folder leaves the repository behind.
  throw new Error(
    `the evaluation core's sources are not at ${coreDir}: install this package from a checkout ` +
      'of the Sidekick repository (npm install <checkout>/sdks/node)',
  );
}
const coreSources = readdirSync(path.join(coreDir, 'src'))
  .filter((name) => name.endsWith('.c'))
  .sort()
  .map((name) => path.join(coreDir, 'src', name));
if (coreSources.length === 0) throw new Error(`no C sources in ${coreDir}/src`);

const outDir = path.join(packageDir, 'build');
mkdirSync(outDir, { recursive: true });
const output = path.join(outDir, 'sidekick.node');
const compiler = process.env.CC || 'cc';
const args = [
  '-std=c11', '-O2', '-fPIC', '-shared', '-fvisibility=hidden',
  '-Wall', '-Wextra', '-Wpedantic', '-Werror',
  '-DNAPI_VERSION=8', '-D_POSIX_C_SOURCE=200809L',
  `-I${nodeIncludeDir()}`, `-I${path.join(coreDir, 'include')}`, `-I${path.join(coreDir, 'src')}`,
  path.join(packageDir, 'src', 'addon.c'), ...coreSources,
  '-o', output,
];
// macOS resolves Node-API symbols from the host process at load time.
if (process.platform === 'darwin') args.push('-undefined', 'dynamic_lookup');
execFileSync(compiler, args, { stdio: 'inherit' });
console.log(`built ${path.relative(packageDir, output)}`);
