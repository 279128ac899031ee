import { readFileSync } from 'node:fs';
import { printSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../../src/schema/index.ts';

describe('schema.graphql', () => {
  it('should match the schema the code builds (run `npm run schema` after changing a type)', () => {
    const committed = readFileSync(new URL('../../../schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(`${printSchema(schema)}\n`);
  });

  it('should never use Int for a Nomad index, timestamp or version', () => {
    const printed = printSchema(schema);
    for (const field of ['createIndex', 'modifyIndex', 'allocModifyIndex', 'jobModifyIndex', 'version', 'jobVersion', 'restarts', 'index']) {
      for (const match of printed.matchAll(new RegExp(`\\n\\s+${field}: (\\w+)`, 'g'))) {
        expect(`${field}: ${match[1]}`).toBe(`${field}: Uint64`);
      }
    }
  });
});
