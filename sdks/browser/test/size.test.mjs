/**
 * The shipped files stay within the size budget: wasm <= 25 KB and glue <= 11 KB, gzipped (10 KB
 * until stream v2 added the shared state machine, back-off and cache, about 3 KB of it).
 */
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';

const dist = new URL('../dist/', import.meta.url);

async function gzippedSize(name) {
  return gzipSync(await readFile(new URL(name, dist)), { level: 9 }).length;
}

test('wasm core is at most 25 KB gzipped', async () => {
  const size = await gzippedSize('sidekick.wasm');
  assert.ok(size <= 25 * 1024, `sidekick.wasm is ${size} bytes gzipped`);
});

test('JavaScript glue is at most 11 KB gzipped', async () => {
  // What a page loads: index.js and every module it imports (dist/vendor/ holds the shared stream
  // code; its SSE parser is for fetch-based clients and is not imported here, so it does not load).
  const loaded = new Set();
  const pending = ['index.js'];
  while (pending.length > 0) {
    const name = pending.pop();
    if (loaded.has(name)) continue;
    loaded.add(name);
    const text = await readFile(new URL(name, dist), 'utf8');
    for (const match of text.matchAll(/from\s*['"](\.[^'"]+)['"]/g)) {
      pending.push(new URL(match[1], new URL(name, dist)).href.slice(dist.href.length));
    }
  }
  let total = 0;
  for (const name of loaded) total += await gzippedSize(name);
  assert.ok(total <= 11 * 1024, `glue is ${total} bytes gzipped (${[...loaded].join(', ')}, gzipped one by one)`);
});

test('the module needs no host imports and exports only what the glue uses', async () => {
  const module = new WebAssembly.Module(await readFile(new URL('sidekick.wasm', dist)));
  assert.deepEqual(WebAssembly.Module.imports(module), []);
  const exported = WebAssembly.Module.exports(module).map((entry) => entry.name);
  for (const name of exported) {
    assert.ok(/^(sk_|skw_)/.test(name) || ['memory', '_initialize'].includes(name), name);
  }
});
