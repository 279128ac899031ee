// `npm run subgraph-sdl`: prints the Federation v2 subgraph SDL (what `_service { sdl }` answers)
// for `rover supergraph compose`, Hive's CLI or a registry. `-- --write` writes subgraph.graphql
// instead, which a test keeps current. graphql's printSchema would drop @link and @key.
import { writeFileSync } from 'node:fs';
import { printSubgraphSchema } from '@apollo/subgraph';
import { subgraphSchema } from '../src/schema/index.ts';

const sdl = `${printSubgraphSchema(subgraphSchema)}\n`;
if (process.argv.includes('--write')) {
  writeFileSync(new URL('../subgraph.graphql', import.meta.url), sdl);
  console.error('wrote subgraph.graphql');
} else {
  process.stdout.write(sdl);
}
