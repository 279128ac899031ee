import { readFileSync } from 'node:fs';
import { printSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../../src/schema/index.ts';

describe('schema.graphql', () => {
  it('should match the schema the code builds (run `npm run schema` after changing a type)', () => {
    const committed = readFileSync(new URL('../../../schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(`${printSchema(schema)}\n`);
  });

  /** Every `field: Type` line of the printed schema for one field name, wherever it is declared. */
  function typesOf(field: string): string[] {
    return [...printSchema(schema).matchAll(new RegExp(`\\n\\s+${field}: (\\w+)`, 'g'))].map((match) => `${field}: ${match[1] ?? ''}`);
  }

  it('should never use Int for a Nomad raft index', () => {
    for (const field of ['createIndex', 'modifyIndex', 'allocModifyIndex', 'jobModifyIndex', 'index']) {
      const types = typesOf(field);
      expect(types.length, field).toBeGreaterThan(0);
      for (const type of types) expect(type).toBe(`${field}: Uint64`);
    }
  });

  it('should use Int for job versions, restart counts and disk limits, which fit in 32 bits', () => {
    for (const field of ['version', 'jobVersion', 'restarts', 'diskLimit']) {
      const types = typesOf(field);
      expect(types.length, field).toBeGreaterThan(0);
      for (const type of types) expect(type).toBe(`${field}: Int`);
    }
  });

  it('should state the specification of every custom scalar with @specifiedBy', () => {
    const printed = printSchema(schema);
    for (const scalar of ['Uint64', 'DateTime', 'Duration', 'JSON']) {
      expect(printed).toMatch(new RegExp(`\\nscalar ${scalar} @specifiedBy\\(url: "https://[^"]+"\\)`));
    }
  });
});
