/** The shipped files stay within the size budget: wasm <= 25 KB and glue <= 10 KB, gzipped. */
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

test('JavaScript glue is at most 10 KB gzipped', async () => {
  const scripts = (await readdir(dist)).filter((name) => name.endsWith('.js'));
  assert.ok(scripts.includes('index.js'));
  let total = 0;
  for (const name of scripts) total += await gzippedSize(name);
  assert.ok(total <= 10 * 1024, `glue is ${total} bytes gzipped (files gzipped one by one)`);
});

test('the module needs no host imports and exports only what the glue uses', async () => {
  const module = new WebAssembly.Module(await readFile(new URL('sidekick.wasm', dist)));
  assert.deepEqual(WebAssembly.Module.imports(module), []);
  const exported = WebAssembly.Module.exports(module).map((entry) => entry.name);
  for (const name of exported) {
    assert.ok(/^(sk_|skw_)/.test(name) || ['memory', '_initialize'].includes(name), name);
  }
});
