// Loads every type file (they register themselves on the builder) and builds the schema once.
import { builder } from './builder.ts';
import './scalars.ts';
import './enums.ts';
import './allocation.ts';
import './allocation-queries.ts';
import './allocation-mutations.ts';

export const schema = builder.toSchema({ sortSchema: false });
