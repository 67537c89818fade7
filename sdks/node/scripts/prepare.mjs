// prepare.mjs — compiles the package's TypeScript (src/ → dist/src/) so a source folder installs.
//
// npm runs `prepare` when it installs this folder (`npm install ./sdks/node`, which links the
// folder rather than copying it) and before `npm pack`. The consumer's npm does not install a
// linked folder's devDependencies, so when TypeScript is missing this installs them itself, from
// the lockfile and with scripts off (no recursion into this script, nothing native to build).
// The stream code shared with the browser and React Native packages is copied in first.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The folder is installed from a checkout: the repository's shared helpers are next to it.
import { installDevDependencies } from '../../../scripts/install-npm-dev-dependencies.mjs';
import { vendorSharedTs } from '../../shared-ts/vendor.mjs';

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = path.join(packageDir, 'node_modules', 'typescript', 'bin', 'tsc');

vendorSharedTs(packageDir);
if (!existsSync(tsc)) installDevDependencies(packageDir);
execFileSync(process.execPath, [tsc, '-p', path.join(packageDir, 'tsconfig.build.json')], {
  cwd: packageDir,
  stdio: 'inherit',
});
console.log('compiled src/ to dist/src/');
