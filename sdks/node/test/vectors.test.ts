/** vectors.test.ts — runs every shared vector in tests/vectors/ against the Node binding. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import { FlagStore, FlagValidationError, murmur3_32 } from '../src/index';

const VECTORS = path.resolve(__dirname, '../../../../tests/vectors');

interface Operation {
  op: 'upsert' | 'delete' | 'clear';
  flag?: Record<string, unknown>;
  error?: string;
  key?: string;
  version?: number | null;
}

interface ExpectedEvaluation {
  flag: string;
  user_key: string;
  attributes?: Record<string, unknown> | null;
  enabled: boolean;
  reason: string;
  rule_index: number | null;
  bucket: number | null;
  version: number | null;
}

interface Case {
  name: string;
  operations: Operation[];
  applied?: (boolean | null)[];
  count?: number;
  evaluations: ExpectedEvaluation[];
}

function load<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

function runCase(vector: Case): void {
  const store = new FlagStore();
  vector.operations.forEach((operation, index) => {
    let applied: boolean | null = null;
    if (operation.op === 'upsert' && operation.error !== undefined) {
      const before = store.flags();
      assert.throws(
        () => store.upsert(operation.flag ?? {}),
        (error: unknown) =>
          error instanceof FlagValidationError && error.field === operation.error,
        `operation ${index} must be rejected at ${operation.error}`,
      );
      assert.deepEqual(store.flags(), before, `operation ${index} changed the store`);
    } else if (operation.op === 'upsert') {
      applied = store.upsert(operation.flag ?? {});
    } else if (operation.op === 'delete') {
      applied = store.delete(operation.key ?? '', operation.version ?? 0);
    } else {
      store.clear();
    }
    if (vector.applied !== undefined) {
      assert.equal(applied, vector.applied[index], `operation ${index} applied`);
    }
  });
  if (vector.count !== undefined) assert.equal(store.size, vector.count, 'count');
  for (const expected of vector.evaluations) {
    const label = `${expected.flag} for ${expected.user_key} ${JSON.stringify(expected.attributes)}`;
    const result = store.evaluate(expected.flag, expected.user_key, expected.attributes);
    assert.deepEqual(
      result,
      {
        enabled: expected.enabled,
        reason: expected.reason,
        ruleIndex: expected.rule_index,
        bucket: expected.bucket,
        version: expected.version,
      },
      label,
    );
    assert.equal(
      store.isEnabled(expected.flag, expected.user_key, expected.attributes),
      expected.enabled,
      label,
    );
  }
}

describe('hash.json', () => {
  const vectors = load<{ cases: { name: string; input_hex: string; seed: number; expected: number }[] }>(
    path.join(VECTORS, 'hash.json'),
  );
  test('every case', () => {
    assert.ok(vectors.cases.length > 0);
    for (const vector of vectors.cases) {
      const bytes = Uint8Array.from(Buffer.from(vector.input_hex, 'hex'));
      assert.equal(murmur3_32(bytes, vector.seed), vector.expected, vector.name);
    }
  });
});

for (const folder of ['evaluation', 'generated']) {
  const dir = path.join(VECTORS, folder);
  const files = readdirSync(dir).filter((name) => name.endsWith('.json')).sort();
  test(`${folder}/ has vectors`, () => assert.ok(files.length > 0));
  for (const file of files) {
    describe(`${folder}/${file}`, () => {
      const { cases } = load<{ cases: Case[] }>(path.join(dir, file));
      if (folder === 'generated') {
        // Thousands of generated cases: one test keeps the reporter's output readable.
        test(`${cases.length} cases`, () => {
          for (const vector of cases) {
            try {
              runCase(vector);
            } catch (error) {
              throw new Error(`case "${vector.name}": ${(error as Error).message}`, { cause: error });
            }
          }
        });
      } else {
        for (const vector of cases) test(vector.name, () => runCase(vector));
      }
    });
  }
}
