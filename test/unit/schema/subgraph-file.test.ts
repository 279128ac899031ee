import { readFileSync } from 'node:fs';
import { printSubgraphSchema } from '@apollo/subgraph';
import { isObjectType, printSchema, specifiedDirectives } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema, subgraphSchema } from '../../../src/schema/index.ts';

describe('subgraph.graphql', () => {
  it('should match the subgraph schema the code builds (run `npm run subgraph-sdl -- --write` after changing a type)', () => {
    const committed = readFileSync(new URL('../../../subgraph.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(`${printSubgraphSchema(subgraphSchema)}\n`);
  });

  it('should link a Federation v2 spec and key each entity by its global id and by Nomad\'s own identifiers', () => {
    const sdl = printSubgraphSchema(subgraphSchema);
    expect(sdl).toMatch(/@link\(url: "https:\/\/specs\.apollo\.dev\/federation\/v2\.\d+", import: \[[^\]]*"@key"/);
    /** The fields of each @key on `type`, in the order declared. */
    const keys = (type: string): string[] => {
      const header = sdl.match(new RegExp(`\\ntype ${type}\\b[^{]*`))?.[0] ?? '';
      return [...header.matchAll(/@key\(fields: "([^"]*)"\)/g)].map((m) => m[1] ?? '');
    };
    expect(keys('Allocation')).toEqual(['id', 'allocId']);
    expect(keys('ClientNode')).toEqual(['id', 'nodeId']);
    expect(keys('Evaluation')).toEqual(['id', 'evalId']);
    expect(keys('Job')).toEqual(['id', 'namespace jobId']);
    expect(sdl).toMatch(/\ninterface Node {/);
  });

  it('should serve _service and _entities on the subgraph schema only', () => {
    const subgraphQuery = subgraphSchema.getQueryType()?.getFields() ?? {};
    expect(Object.keys(subgraphQuery)).toEqual(expect.arrayContaining(['_service', '_entities']));
    expect(subgraphSchema.getType('_Entity')?.toString()).toBe('_Entity');

    const plainQuery = schema.getQueryType()?.getFields() ?? {};
    expect(Object.keys(plainQuery)).not.toContain('_service');
    expect(Object.keys(plainQuery)).not.toContain('_entities');
    for (const name of ['_Entity', '_Any', '_Service', 'link__Import', 'FieldSet']) expect(schema.getType(name)).toBeUndefined();
    expect(schema.getDirectives().map((d) => d.name)).toEqual(specifiedDirectives.map((d) => d.name));
    expect(printSchema(schema)).not.toMatch(/@key|@link|_service|_entities/);
  });

  it('should serve the same object types and fields on both schemas', () => {
    for (const name of ['Allocation', 'Job', 'ClientNode', 'Evaluation', 'TaskState', 'Service']) {
      const plain = schema.getType(name);
      const federated = subgraphSchema.getType(name);
      if (!isObjectType(plain) || !isObjectType(federated)) throw new Error(`${name} is not an object type in both schemas`);
      expect(Object.keys(federated.getFields()).sort()).toEqual(Object.keys(plain.getFields()).sort());
    }
  });
});
