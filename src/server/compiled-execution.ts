/**
 * Queries and mutations executed by graphql-jit: a document that recurs is compiled once into a
 * function for its selection, which runs in a fraction of graphql-js's time. An envelop plugin, so every transport gets it
 * (yoga's pipeline, the fast path, graphql-ws) and every other plugin still wraps execution.
 *
 * What stays exactly as graphql-js does it, by construction:
 * - a document is compiled only once it has run `compileAfter` times (compiling costs
 *   milliseconds; one-off documents never pay it), and at most `maxDocuments` are kept (LRU);
 * - variables are checked by graphql-js first: when they do not fit, graphql-js runs the
 *   operation and reports the errors in its own words;
 * - a field error gets back the field nodes graphql-jit leaves out (and with them its
 *   `locations` in the answer), from its path;
 * - a document graphql-jit cannot compile runs on graphql-js.
 * Subscriptions are not compiled.
 */
import { GraphQLError, getOperationAST, type DocumentNode, type ExecutionArgs, type ExecutionResult, type FieldNode, type FragmentDefinitionNode, type GraphQLSchema, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import { getVariableValues } from 'graphql/execution/values.js';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';

export interface CompiledExecutionOptions {
  /** Runs of a document (with one operation name) on graphql-js before it is compiled. @default 1 */
  compileAfter?: number;
  /** Compiled documents kept. @default 1000 */
  maxDocuments?: number;
  /**
   * Told each time a document is compiled (`compiled`: true) or found one graphql-jit cannot
   * compile (false; it then stays on graphql-js). Must not throw.
   */
  onCompile?: (event: { operationName: string | undefined; compiled: boolean }) => void;
}

interface Entry {
  schema: GraphQLSchema;
  runs: number;
  /** undefined: not compiled yet; null: graphql-jit could not compile it. */
  compiled: CompiledQuery | null | undefined;
  operation: OperationDefinitionNode | undefined;
}

/** The selection sets a path's field nodes live in, resolved through fragments. */
function collectFields(set: SelectionSetNode, key: string, fragments: ReadonlyMap<string, FragmentDefinitionNode>, out: FieldNode[], seen: Set<string>): void {
  for (const selection of set.selections) {
    if (selection.kind === 'Field') {
      if ((selection.alias?.value ?? selection.name.value) === key) out.push(selection);
    } else if (selection.kind === 'InlineFragment') {
      collectFields(selection.selectionSet, key, fragments, out, seen);
    } else {
      const fragment = fragments.get(selection.name.value);
      if (fragment !== undefined && !seen.has(fragment.name.value)) {
        seen.add(fragment.name.value);
        collectFields(fragment.selectionSet, key, fragments, out, seen);
        seen.delete(fragment.name.value);
      }
    }
  }
}

/** The field nodes of the response path `path` (graphql-js's `fieldNodes` of the field there). */
export function fieldNodesAt(document: DocumentNode, operation: OperationDefinitionNode, path: readonly (string | number)[]): FieldNode[] {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) if (definition.kind === 'FragmentDefinition') fragments.set(definition.name.value, definition);
  let sets: SelectionSetNode[] = [operation.selectionSet];
  let nodes: FieldNode[] = [];
  for (const segment of path) {
    if (typeof segment === 'number') continue;
    nodes = [];
    for (const set of sets) collectFields(set, segment, fragments, nodes, new Set());
    sets = nodes.flatMap((node) => (node.selectionSet === undefined ? [] : [node.selectionSet]));
  }
  return nodes;
}

/**
 * `error` with the field nodes graphql-js would give it (those at its path). graphql-jit sets
 * `locations` without `nodes`, and yoga rebuilds each error from its nodes as it writes the answer,
 * which would drop them.
 */
function located(error: GraphQLError, document: DocumentNode, operation: OperationDefinitionNode): GraphQLError {
  if ((error.nodes?.length ?? 0) > 0 || error.path === undefined) return error;
  const nodes = fieldNodesAt(document, operation, error.path);
  if (nodes.length === 0) return error;
  return new GraphQLError(error.message, {
    nodes,
    path: error.path,
    originalError: error.originalError ?? undefined,
    extensions: error.extensions,
  });
}

/** Runs a compiled query and makes its result look like graphql-js's. */
function runCompiled(compiled: CompiledQuery, args: ExecutionArgs, operation: OperationDefinitionNode): ExecutionResult | Promise<ExecutionResult> {
  const finish = (result: ExecutionResult): ExecutionResult => {
    if (result.errors === undefined || result.errors.length === 0) return result;
    // graphql-js's order of the keys (`errors` first), which is the order of the JSON answer.
    const { errors, data, ...rest } = result;
    return { errors: errors.map((error) => located(error, args.document, operation)), data, ...rest };
  };
  const result = compiled.query(args.rootValue, args.contextValue, args.variableValues);
  return result instanceof Promise ? result.then(finish) : finish(result);
}

/**
 * The envelop plugin: compiles recurring queries and mutations with graphql-jit (see the module's
 * comment for what stays graphql-js's).
 */
export function useCompiledExecution(options: CompiledExecutionOptions = {}): Plugin {
  const compileAfter = options.compileAfter ?? 1;
  // Per document (the parse cache hands out one object per query text), per operation name.
  const entries = new LRUCache<DocumentNode, Map<string, Entry>>({ max: options.maxDocuments ?? 1000 });

  const entryFor = (args: ExecutionArgs): Entry => {
    let byName = entries.get(args.document);
    if (byName === undefined) {
      byName = new Map();
      entries.set(args.document, byName);
    }
    const name = args.operationName ?? '';
    let entry = byName.get(name);
    if (entry === undefined || entry.schema !== args.schema) {
      entry = { schema: args.schema, runs: 0, compiled: undefined, operation: getOperationAST(args.document, args.operationName) ?? undefined };
      byName.set(name, entry);
    }
    return entry;
  };

  return {
    onExecute: ({ args, setExecuteFn }) => {
      const entry = entryFor(args);
      const { operation } = entry;
      if (operation === undefined || operation.operation === 'subscription') return;
      if (entry.compiled === undefined) {
        entry.runs += 1;
        if (entry.runs <= compileAfter) return;
        // graphql-jit's own JSON writer (fast-json-stringify) knows no custom scalars: results are
        // written with JSON.stringify, as graphql-js's are.
        const compiled = compileQuery(args.schema, args.document, args.operationName ?? undefined);
        entry.compiled = isCompiledQuery(compiled) ? compiled : null;
        options.onCompile?.({ operationName: entry.operation?.name?.value, compiled: entry.compiled !== null });
      }
      const { compiled } = entry;
      if (compiled === null) return;
      // Variables graphql-js would refuse: graphql-js runs it, and says why in its words.
      if ((operation.variableDefinitions?.length ?? 0) > 0) {
        const coerced = getVariableValues(args.schema, operation.variableDefinitions ?? [], args.variableValues ?? {}, { maxErrors: 50 });
        if (coerced.errors !== undefined) return;
      }
      setExecuteFn((executionArgs) => runCompiled(compiled, executionArgs, operation));
    },
  };
}
