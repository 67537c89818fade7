// install-npm-dev-dependencies.mjs — installs a JS package folder's devDependencies from its lockfile.
//
// The SDK packages' `prepare` scripts call it when their folder is installed into another project:
// that project's npm runs the package's scripts but installs none of its devDependencies.
import { execFileSync } from 'node:child_process';

// Settings the outer `npm install` passes down that would point a nested npm at the consumer's
// project (or the global prefix) instead of this folder.
const OUTER_LOCATION = /^npm_(config_(local_prefix|prefix|global|global_prefix|location)|command|lifecycle_|package_)/i;

export function installDevDependencies(packageDir) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !OUTER_LOCATION.test(name)));
  const npm = process.env.npm_execpath;
  const [command, prefix] = npm ? [process.execPath, [npm]] : ['npm', []];
  console.log(`installing the build tools (devDependencies) into ${packageDir}/node_modules`);
  execFileSync(
    command,
    [...prefix, 'ci', '--prefix', packageDir, '--include=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'],
    { cwd: packageDir, env, stdio: 'inherit' },
  );
}
