/** Reads the shared test vectors from tests/vectors for the Node and Chromium suites. */
import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const vectorsDir = `${repoRoot}tests/vectors/`;

export async function loadHashVectors() {
  return JSON.parse(await readFile(`${vectorsDir}hash.json`, 'utf8'));
}

/** Every evaluation/, generated/ and typed/ (ABI version 2) file, keyed by path relative to
 * tests/vectors. */
export async function loadEvaluationVectors() {
  const files = {};
  for (const dir of ['evaluation', 'generated', 'typed']) {
    for (const name of (await readdir(`${vectorsDir}${dir}`)).sort()) {
      if (!name.endsWith('.json')) continue;
      files[`${dir}/${name}`] = JSON.parse(await readFile(`${vectorsDir}${dir}/${name}`, 'utf8'));
    }
  }
  return files;
}
