// vendor.mjs — copies the shared TypeScript (sdks/shared-ts/src) into a package's src/vendor/,
// so that the Node, browser and React Native packages compile one source of the SSE parser, the
// stream state machine, the back-off and the cache format. The copies are git-ignored; every
// build and each package's npm `prepare` run this first.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SHARED_SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'src');
const NOTICE = '// Copied from sdks/shared-ts/src by sdks/shared-ts/vendor.mjs: edit the original.\n';

export function vendorSharedTs(packageDir) {
  const target = path.join(packageDir, 'src', 'vendor');
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  for (const name of readdirSync(SHARED_SOURCE)) {
    if (!name.endsWith('.ts')) continue;
    const text = readFileSync(path.join(SHARED_SOURCE, name), 'utf8');
    writeFileSync(path.join(target, name), NOTICE + text);
  }
  return target;
}

// `node sdks/shared-ts/vendor.mjs <package dir>...` (the Makefile's way in).
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const dir of process.argv.slice(2)) console.log(`vendored shared TypeScript into ${vendorSharedTs(dir)}`);
}
