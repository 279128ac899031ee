/**
 * Queries executed by graphql-jit: a query document that recurs is compiled once into a function
 * for its selection, which runs in a fraction of graphql-js's time. An envelop plugin, so every
 * transport gets it (yoga's pipeline, the fast path, graphql-ws) and every other plugin still
 * wraps execution.
 *
 * graphql-jit is trusted with the happy path only; whatever could differ stays the reference
 * engine's (graphql-tools' executor, as yoga runs it), by construction:
 * - a result with any error is thrown away and the query runs again on the reference engine,
 *   whose answer is sent. Errors are the exception on a hot path, the reads of the first run sit
 *   in the request's loaders, and graphql-jit was seen, rarely, to answer a list whose items
 *   failed with one null too many (`test/integration/gateway/global-ids.test.ts`);
 * - variables the reference engine would refuse never reach graphql-jit;
 * - mutations are never compiled (their effects must not run twice), nor subscriptions;
 * - a document is compiled only once it has run `compileAfter` times (compiling costs
 *   milliseconds; one-off documents never pay it), and at most `maxDocuments` are kept (LRU);
 * - a document graphql-jit cannot compile stays on the reference engine.
 */
import { getOperationAST, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';
import { refusesVariables } from './refused-variables.ts';

export interface CompiledExecutionOptions {
  /** Runs of a query document (with one operation name) on the reference engine before it is compiled. @default 1 */
  compileAfter?: number;
  /** Compiled documents kept. @default 1000 */
  maxDocuments?: number;
  /**
   * Told each time a document is compiled (`compiled`: true) or found one graphql-jit cannot
   * compile (false; it then stays on the reference engine). Must not throw.
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

type Execute = (args: ExecutionArgs) => unknown;

/** Runs a compiled query; a result with errors is replaced by the reference engine's. */
function runCompiled(compiled: CompiledQuery, args: ExecutionArgs, reference: Execute): unknown {
  const settle = (result: ExecutionResult): unknown => ((result.errors?.length ?? 0) === 0 ? result : reference(args));
  const result = compiled.query(args.rootValue, args.contextValue, args.variableValues);
  return result instanceof Promise ? result.then(settle) : settle(result);
}

/**
 * The envelop plugin: compiles recurring queries with graphql-jit (see the module's comment for
 * what stays the reference engine's).
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
    onExecute: ({ args, executeFn, setExecuteFn }) => {
      const entry = entryFor(args);
      const { operation } = entry;
      if (operation?.operation !== 'query') return;
      if (entry.compiled === undefined) {
        entry.runs += 1;
        if (entry.runs <= compileAfter) return;
        // graphql-jit's own JSON writer (fast-json-stringify) knows no custom scalars: results are
        // written with JSON.stringify, as the reference engine's are.
        const compiled = compileQuery(args.schema, args.document, args.operationName ?? undefined);
        entry.compiled = isCompiledQuery(compiled) ? compiled : null;
        options.onCompile?.({ operationName: entry.operation?.name?.value, compiled: entry.compiled !== null });
      }
      const { compiled } = entry;
      if (compiled === null) return;
      // Variables the reference engine would refuse: it runs the operation, and says why in its words.
      if (refusesVariables(args, operation)) return;
      setExecuteFn((executionArgs) => runCompiled(compiled, executionArgs, executeFn) as ReturnType<typeof executeFn>);
    },
  };
}
