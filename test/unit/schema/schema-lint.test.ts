// Lints the printed schema with graphql-eslint's schema rules, through ESLint's Node API (no
// eslint config file): every type, field, argument, input field and enum value must say what it
// means (GraphiQL's docs pane shows nothing else), and names must follow one convention. A finding
// fails the test with the rule, its message and its place (file:line:column and schema coordinate).
import { readFileSync } from 'node:fs';
import graphqlPlugin from '@graphql-eslint/eslint-plugin';
import { type ESLint, Linter } from 'eslint';
import { type Location, parse, printSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../../src/schema/index.ts';

/** Pothos names a connection `<Parent><Field>Connection` and its edge `<...>ConnectionEdge` unless told otherwise. */
const POTHOS_DEFAULT_CONNECTION = /^(Query|Mutation|Subscription)\w*Connection(Edge)?$|ConnectionEdge$/;
/** A root type's name leaking into another type's name (`QueryAllocations`, `AllocationsQuery`); `Query` itself is fine. */
const ROOT_PREFIX = /^(Query|Mutation|Subscription)(?=.)/;
const ROOT_SUFFIX = /(?<=.)(Query|Mutation|Subscription)$/;

/**
 * Object types that are values inside an entity, never fetched on their own, so they have no
 * global `id`. A new object type must either get `id: ID!` (and implement `Node`) or be added here:
 * the choice is made on purpose, not by accident.
 */
const TYPES_WITHOUT_ID = [
  'AllocatedPort',
  'AllocatedResources',
  'AllocatedTaskResources',
  'AllocationChanges',
  'AllocationMetrics',
  'AllocationNetworkStatus',
  'AllocationStateChange',
  'DeploymentStatus',
  'DesiredTransition',
  'ExecExited',
  'ExecOutput',
  'ExecStarted',
  'JobTask',
  'PageInfo',
  'RescheduleEvent',
  'RescheduleTracker',
  'TaskEvent',
  'TaskGroup',
  'TaskState',
];

/**
 * Findings accepted on purpose, by rule and schema coordinate, each with its reason. The schema's
 * field names are a public contract, so these stay; a finding listed here that no longer occurs
 * fails the test, so the list cannot outlive its reasons.
 */
const ACCEPTED: Record<string, Record<string, string>> = {
  '@graphql-eslint/no-typename-prefix': {
    'Job.jobId': 'Nomad\'s own job id, next to the global `id`; the `namespace jobId` federation key and `AllocationWhere.jobId` use this name',
    'Job.jobModifyIndex': 'Nomad\'s `JobModifyIndex` (the spec\'s last change), distinct from `modifyIndex` (any change)',
    'Service.serviceName': 'Nomad\'s `ServiceName`; `name` alone would hide that several registrations share it',
  },
};

const RULES: Linter.RulesRecord = {
  // Every element of the schema says what it means. `types` covers object, interface, enum, scalar,
  // input and union types; FieldDefinition covers output fields; InputValueDefinition covers both
  // arguments and input fields; `rootField` makes Query and Mutation fields explicit.
  '@graphql-eslint/require-description': [
    'error',
    {
      types: true,
      rootField: true,
      FieldDefinition: true,
      InputValueDefinition: true,
      EnumValueDefinition: true,
      DirectiveDefinition: true,
    },
  ],
  // GraphQL's usual casing, plus the names Pothos would invent if a connection lost its explicit
  // `name` (`QueryAllocationsConnection`), root-type words leaking into type names, and the
  // kind of a type repeated in its name (`StatusEnum`, `JobType`), as in graphql-eslint's own
  // recommended schema config.
  '@graphql-eslint/naming-convention': [
    'error',
    {
      types: { style: 'PascalCase', forbiddenPatterns: [POTHOS_DEFAULT_CONNECTION, ROOT_PREFIX, ROOT_SUFFIX] },
      FieldDefinition: 'camelCase',
      InputValueDefinition: 'camelCase',
      DirectiveDefinition: 'camelCase',
      EnumValueDefinition: 'UPPER_CASE',
      'FieldDefinition[parent.name.value=Query]': { forbiddenPatterns: [/^(query|get)/i, /query$/i] },
      'FieldDefinition[parent.name.value=Mutation]': { forbiddenPatterns: [/^mutation/i, /mutation$/i] },
      'EnumTypeDefinition,EnumTypeExtension': { forbiddenPatterns: [/^enum/i, /enum$/i] },
      'InterfaceTypeDefinition,InterfaceTypeExtension': { forbiddenPatterns: [/^interface/i, /interface$/i] },
      'ObjectTypeDefinition,ObjectTypeExtension': { forbiddenPatterns: [/^type/i, /type$/i] },
    },
  ],
  // Entities carry exactly one `id: ID!` (the global id `node(id:)` takes). Value objects are listed
  // in TYPES_WITHOUT_ID; mutation payloads and Relay's connection and edge wrappers are exempt by suffix.
  '@graphql-eslint/strict-id-in-types': [
    'error',
    {
      acceptedIdNames: ['id'],
      acceptedIdTypes: ['ID'],
      exceptions: { types: TYPES_WITHOUT_ID, suffixes: ['Payload', 'Connection', 'Edge'] },
    },
  ],
  // `Job.jobName` style stutter; the few historical names are in ACCEPTED with their reasons.
  '@graphql-eslint/no-typename-prefix': 'error',
  // A type nobody can reach from Query or Mutation is dead weight in the docs.
  '@graphql-eslint/no-unreachable-types': 'error',
  // A deprecation must tell callers what to use instead.
  '@graphql-eslint/require-deprecation-reason': 'error',
  // Descriptions are block strings (`"""`), as graphql-js prints them; never `#` comments, which
  // introspection (and so GraphiQL) does not see.
  '@graphql-eslint/description-style': ['error', { style: 'block' }],
  '@graphql-eslint/no-hashtag-description': 'error',
  // Mutations take one `input` argument of type `<MutationName>Input` (the casing of the first
  // letter aside: `stopAllocation` takes `StopAllocationInput`).
  '@graphql-eslint/input-name': ['error', { checkInputType: true, caseSensitiveInputType: false }],
  // Relay clients (relay-compiler, urql, Apollo) rely on the cursor connection spec: connection
  // types with `edges` and `pageInfo`, edge types named `...Edge` with `cursor` and a `Node` node,
  // the four paging arguments, and a complete PageInfo. Plain lists stay allowed
  // (`listTypeCanWrapOnlyEdgeType: false`): `taskStates`, `events`, `datacenters` are not pages.
  '@graphql-eslint/relay-connection-types': 'error',
  '@graphql-eslint/relay-edge-types': ['error', { withEdgeSuffix: true, shouldImplementNode: true, listTypeCanWrapOnlyEdgeType: false }],
  '@graphql-eslint/relay-arguments': 'error',
  '@graphql-eslint/relay-page-info': 'error',
  // Not enabled: `alphabetize` (fields keep a meaningful order: ids, names, status, then links),
  // `unique-enum-value-names` (ClientStatus and TaskLifecycleState both rightly have PENDING), and
  // `require-nullable-result-in-root` (`allocations`, `nodes` and the mutation payloads are non-null
  // on purpose: they always answer, or the operation fails with an error).
};

/** An ESLint config that lints one SDL document against the schema that document defines. */
function configFor(sdl: string): Linter.Config[] {
  return [
    {
      files: ['**/*.graphql'],
      languageOptions: { parser: graphqlPlugin.parser, parserOptions: { schemaSdl: sdl } },
      // graphql-eslint types `meta.docs.category` as a list, which ESLint's `Plugin` type does not
      // allow; the runtime shape is what ESLint expects, so only the static view is adjusted.
      plugins: { '@graphql-eslint': graphqlPlugin as unknown as ESLint.Plugin },
      rules: RULES,
    },
  ];
}

/** Where each schema element (type, field, argument, input field, enum value) sits in an SDL document. */
interface Element {
  coordinate: string;
  /** Offsets of its first character (its description's, when it has one) and past its last. */
  start: number;
  end: number;
}

function elements(sdl: string): Element[] {
  const found: Element[] = [];
  const add = (node: { loc?: Location; description?: { loc?: Location } }, coordinate: string) => {
    if (node.loc !== undefined) found.push({ coordinate, start: node.description?.loc?.start ?? node.loc.start, end: node.loc.end });
  };
  for (const definition of parse(sdl).definitions) {
    if (!('name' in definition) || definition.name === undefined) continue;
    const type = definition.kind === 'DirectiveDefinition' ? `@${definition.name.value}` : definition.name.value;
    add(definition, type);
    for (const field of 'fields' in definition ? (definition.fields ?? []) : []) {
      add(field, `${type}.${field.name.value}`);
      for (const arg of 'arguments' in field ? (field.arguments ?? []) : []) add(arg, `${type}.${field.name.value}(${arg.name.value}:)`);
    }
    for (const value of 'values' in definition ? (definition.values ?? []) : []) add(value, `${type}.${value.name.value}`);
    for (const arg of 'arguments' in definition ? (definition.arguments ?? []) : []) add(arg, `${type}(${arg.name.value}:)`);
  }
  return found;
}

/**
 * The schema coordinate (`Type.field(arg:)`) of a position: the innermost element around it, or,
 * for a `#` comment between elements, the element that follows it.
 */
function coordinateAt(sdl: string, found: readonly Element[], line: number, column: number): string {
  const lineStart = sdl.split('\n').slice(0, line - 1).reduce((offset, text) => offset + text.length + 1, 0);
  const offset = lineStart + column - 1;
  const around = found.filter((e) => e.start <= offset && offset < e.end).sort((a, b) => a.end - a.start - (b.end - b.start));
  return (around[0] ?? found.filter((e) => e.start > offset).sort((a, b) => a.start - b.start)[0])?.coordinate ?? '(document)';
}

interface Finding {
  ruleId: string;
  coordinate: string;
  /** `file:line:column rule coordinate: message`, the line a failing test prints. */
  text: string;
}

function lint(sdl: string, filename: string): Finding[] {
  const found = elements(sdl);
  const messages = new Linter({ configType: 'flat' }).verify(sdl, configFor(sdl), { filename });
  return messages.map((m) => {
    const ruleId = m.ruleId ?? 'parse-error';
    const coordinate = coordinateAt(sdl, found, m.line, m.column);
    return { ruleId, coordinate, text: `${filename}:${m.line}:${m.column} ${ruleId} ${coordinate}: ${m.message.replaceAll('\n', ' ')}` };
  });
}

function isAccepted(finding: Finding): boolean {
  return ACCEPTED[finding.ruleId]?.[finding.coordinate] !== undefined;
}

const printed = {
  'schema.graphql': readFileSync(new URL('../../../schema.graphql', import.meta.url), 'utf8'),
  'the schema built from src/schema': `${printSchema(schema)}\n`,
};

describe('schema lint (graphql-eslint)', () => {
  for (const [name, sdl] of Object.entries(printed)) {
    it(`should find nothing in ${name} but the accepted exceptions`, () => {
      const problems = lint(sdl, name === 'schema.graphql' ? name : 'in-memory/schema.graphql').filter((f) => !isAccepted(f));
      expect(problems.map((f) => f.text)).toEqual([]);
    });
  }

  it('should still need every accepted exception (remove the ones that no longer occur)', () => {
    const found = new Set(lint(printed['schema.graphql'], 'schema.graphql').map((f) => `${f.ruleId} ${f.coordinate}`));
    const stale = Object.entries(ACCEPTED).flatMap(([ruleId, coords]) =>
      Object.keys(coords).filter((coordinate) => !found.has(`${ruleId} ${coordinate}`)).map((coordinate) => `${ruleId} ${coordinate}`),
    );
    expect(stale).toEqual([]);
  });

  it('should report a missing description with its rule, message and place, and the other rules too', () => {
    const bad = [
      '"""Reads."""',
      'type Query {',
      '  """Users."""',
      '  users(first: Int, after: String, last: Int, before: String): QueryUsersConnection!',
      '  user(',
      '    id: ID!',
      '  ): User @deprecated',
      '}',
      '',
      '# A person.',
      'type User {',
      '  id: ID!',
      '  """The user\'s name."""',
      '  userName: String!',
      '  "Inline."',
      '  status: status_enum',
      '}',
      '',
      '"""Statuses."""',
      'enum status_enum {',
      '  """Active."""',
      '  active',
      '}',
      '',
      '"""Users."""',
      'type QueryUsersConnection {',
      '  """Page."""',
      '  pageInfo: PageInfo!',
      '  """Edges."""',
      '  edges: [QueryUsersConnectionEdge!]!',
      '}',
      '',
      '"""An edge."""',
      'type QueryUsersConnectionEdge {',
      '  """Cursor."""',
      '  cursor: String!',
      '  """Node."""',
      '  node: User!',
      '}',
      '',
      '"""Page info."""',
      'type PageInfo {',
      '  """Next."""',
      '  hasNextPage: Boolean!',
      '  """Previous."""',
      '  hasPreviousPage: Boolean!',
      '  """Start."""',
      '  startCursor: String',
      '  """End."""',
      '  endCursor: String',
      '}',
      '',
      '"""Nobody reaches me."""',
      'type Orphan {',
      '  """Id."""',
      '  id: ID!',
      '}',
      '',
      '"""Writes."""',
      'type Mutation {',
      '  """Renames a user."""',
      '  renameUser(',
      '    """The new name."""',
      '    name: String!',
      '  ): Thing',
      '}',
      '',
      '"""Not an entity, yet not listed as a value type."""',
      'type Thing {',
      '  """Its name."""',
      '  name: String!',
      '}',
      '',
    ].join('\n');
    const findings = lint(bad, 'bad.graphql');
    const texts = findings.map((f) => f.text);

    expect(texts).toContain('bad.graphql:5:3 @graphql-eslint/require-description Query.user: Description is required for field "user" in type "Query"');
    expect(texts).toContain('bad.graphql:6:5 @graphql-eslint/require-description Query.user(id:): Description is required for input value "id" in field "user"');
    expect(texts).toContain('bad.graphql:11:6 @graphql-eslint/require-description User: Description is required for type "User"');
    expect(texts).toContain('bad.graphql:12:3 @graphql-eslint/require-description User.id: Description is required for field "id" in type "User"');
    expect(texts).toContain('bad.graphql:7:12 @graphql-eslint/require-deprecation-reason Query.user: Deprecation reason is required for field "user" in type "Query".');
    expect(texts).toContainEqual(expect.stringMatching(/^bad\.graphql:10:1 @graphql-eslint\/no-hashtag-description User: /));
    expect(texts).toContainEqual(expect.stringMatching(/^bad\.graphql:\d+:\d+ @graphql-eslint\/strict-id-in-types Thing: type "Thing" must have exactly one non-nullable unique identifier/));
    expect(texts).toContain('bad.graphql:64:5 @graphql-eslint/input-name Mutation.renameUser(name:): Input "name" should be named "input" for "Mutation.renameUser"');
    expect(new Set(findings.map((f) => f.ruleId))).toEqual(
      new Set([
        '@graphql-eslint/require-description',
        '@graphql-eslint/naming-convention',
        '@graphql-eslint/no-typename-prefix',
        '@graphql-eslint/no-unreachable-types',
        '@graphql-eslint/require-deprecation-reason',
        '@graphql-eslint/description-style',
        '@graphql-eslint/no-hashtag-description',
        '@graphql-eslint/relay-edge-types',
        '@graphql-eslint/strict-id-in-types',
        '@graphql-eslint/input-name',
      ]),
    );
    expect(texts.filter((t) => t.includes('naming-convention')).map((t) => t.replace(/^\S+ \S+ /, ''))).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^QueryUsersConnection: .*forbidden pattern/),
        expect.stringMatching(/^QueryUsersConnectionEdge: .*forbidden pattern/),
        expect.stringMatching(/^status_enum: .*/),
        expect.stringMatching(/^status_enum\.active: .*UPPER_CASE/),
      ]),
    );
  });
});
