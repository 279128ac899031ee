/**
 * Nomad's ACL model, reduced to what the allocation endpoints check: namespace capabilities
 * and node read. Tokens are created through the programmatic API (`createToken`).
 */

export const NAMESPACE_CAPABILITIES = [
  'list-jobs',
  'parse-job',
  'read-job',
  'submit-job',
  'dispatch-job',
  'read-logs',
  'read-fs',
  'alloc-exec',
  'alloc-node-exec',
  'alloc-lifecycle',
  'scale-job',
] as const;
export type NamespaceCapability = (typeof NAMESPACE_CAPABILITIES)[number];

/** The `policy = "read"` / `"write"` shorthands, restricted to the capabilities we model. */
const POLICY_SHORTHANDS: Record<'read' | 'write', readonly NamespaceCapability[]> = {
  read: ['list-jobs', 'parse-job', 'read-job'],
  write: [
    'list-jobs',
    'parse-job',
    'read-job',
    'scale-job',
    'submit-job',
    'dispatch-job',
    'read-logs',
    'read-fs',
    'alloc-exec',
    'alloc-lifecycle',
  ],
};

/** A namespace rule: a shorthand policy, explicit capabilities, or both. */
export interface NamespaceRule {
  policy?: 'read' | 'write' | 'deny';
  capabilities?: readonly NamespaceCapability[];
}

export interface TokenSpec {
  name?: string;
  /** Rules per namespace name; the key `*` applies to every namespace without its own rule. */
  namespaces?: Record<string, NamespaceRule>;
  node?: 'read' | 'write' | 'deny';
  management?: boolean;
}

export interface AclToken {
  AccessorID: string;
  SecretID: string;
  Name: string;
  Type: 'client' | 'management';
}

/** What a request may do, resolved once per request. */
export interface Authority {
  /** ACLs off, or a management token. */
  readonly unrestricted: boolean;
  can(namespace: string, capability: NamespaceCapability): boolean;
  canReadNodes(): boolean;
}

/** The request presented a token that does not resolve: Nomad answers 403 `Permission denied`. */
export const INVALID_TOKEN = Symbol('invalid token');

const UNRESTRICTED: Authority = { unrestricted: true, can: () => true, canReadNodes: () => true };

function authorityFor(spec: TokenSpec): Authority {
  if (spec.management === true) return UNRESTRICTED;
  const resolved = new Map<string, Set<NamespaceCapability>>();
  for (const [namespace, rule] of Object.entries(spec.namespaces ?? {})) {
    const caps = new Set<NamespaceCapability>(
      rule.policy === 'read' || rule.policy === 'write' ? POLICY_SHORTHANDS[rule.policy] : [],
    );
    for (const cap of rule.capabilities ?? []) caps.add(cap);
    if (rule.policy === 'deny') caps.clear();
    resolved.set(namespace, caps);
  }
  return {
    unrestricted: false,
    can: (namespace, capability) =>
      (resolved.get(namespace) ?? resolved.get('*'))?.has(capability) === true,
    canReadNodes: () => spec.node === 'read' || spec.node === 'write',
  };
}

export interface AclStore {
  readonly enabled: boolean;
  /** A management token, always present when ACLs are on. */
  readonly managementToken: AclToken;
  createToken(spec: TokenSpec): AclToken;
  /** Deletes a token by its secret (`nomad acl token delete`): later requests with it get 403. */
  deleteToken(secret: string): void;
  /** Sets the rules anonymous requests get (Nomad's `anonymous` policy). */
  setAnonymousPolicy(spec: TokenSpec): void;
  /** Resolves a request's secret (undefined: anonymous). */
  resolve(secret: string | undefined): Authority | typeof INVALID_TOKEN;
}

export function createAclStore(options: {
  enabled: boolean;
  newId: () => string;
  /** The management token's secret; random when absent. */
  managementSecret?: string;
}): AclStore {
  const tokens = new Map<string, { token: AclToken; authority: Authority }>();
  let anonymous: Authority = authorityFor({});
  const createToken = (spec: TokenSpec, secret = options.newId()): AclToken => {
    const token: AclToken = {
      AccessorID: options.newId(),
      SecretID: secret,
      Name: spec.name ?? '',
      Type: spec.management === true ? 'management' : 'client',
    };
    tokens.set(token.SecretID, { token, authority: authorityFor(spec) });
    return token;
  };
  const managementToken = createToken({ name: 'Bootstrap Token', management: true }, options.managementSecret);
  return {
    enabled: options.enabled,
    managementToken,
    createToken: (spec) => createToken(spec),
    deleteToken: (secret) => {
      tokens.delete(secret);
    },
    setAnonymousPolicy: (spec) => {
      anonymous = authorityFor(spec);
    },
    resolve: (secret) => {
      if (!options.enabled) return UNRESTRICTED;
      if (secret === undefined || secret === '') return anonymous;
      return tokens.get(secret)?.authority ?? INVALID_TOKEN;
    },
  };
}

/** Nomad's token extraction: `X-Nomad-Token`, then `Authorization: Bearer <token>` (any case). */
export function tokenFromHeaders(headers: Record<string, string | string[] | undefined>): string | undefined {
  const direct = headers['x-nomad-token'];
  const first = Array.isArray(direct) ? direct[0] : direct;
  if (first !== undefined && first.trim() !== '') return first.trim();
  const auth = headers['authorization'];
  const authValue = Array.isArray(auth) ? auth[0] : auth;
  if (authValue === undefined) return undefined;
  const [scheme, value] = authValue.trim().split(/\s+/);
  if (scheme?.toLowerCase() === 'bearer' && value !== undefined && value !== '') return value;
  return undefined;
}
