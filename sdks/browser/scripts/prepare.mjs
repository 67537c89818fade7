// prepare.mjs — builds what the package ships (dist/): the wasm core when it is not there yet, and
// the TypeScript glue with its declarations.
//
// npm runs `prepare` when it installs this folder (`npm install ./sdks/browser`, which links the
// folder rather than copying it) and before `npm pack`. The consumer's npm does not install a
// linked folder's devDependencies, so when TypeScript is missing this installs them itself.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The folder is installed from a checkout: the repository's shared helper is next to it.
import { installDevDependencies } from '../../../scripts/install-npm-dev-dependencies.mjs';
import { vendorSharedTs } from '../../shared-ts/vendor.mjs';
import { WASM_OUTPUT, buildWasm } from './build-wasm.mjs';

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = path.join(packageDir, 'node_modules', 'typescript', 'bin', 'tsc');

if (!existsSync(WASM_OUTPUT)) buildWasm();
if (!existsSync(tsc)) installDevDependencies(packageDir);
// The stream code shared with the Node and React Native packages is copied in first.
vendorSharedTs(packageDir);
// A renamed module must not leave its old output behind in what the package ships.
const dist = path.join(packageDir, 'dist');
for (const name of readdirSync(dist)) {
  if (name.endsWith('.js') || name.endsWith('.d.ts')) rmSync(path.join(dist, name));
}
rmSync(path.join(dist, 'vendor'), { recursive: true, force: true });
for (const project of ['tsconfig.json', 'tsconfig.types.json']) {
  execFileSync(process.execPath, [tsc, '-p', path.join(packageDir, project)], { cwd: packageDir, stdio: 'inherit' });
}
console.log('compiled src/ to dist/');
