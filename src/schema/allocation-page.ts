import type { AllocListStub } from '../nomad/types.ts';
import { ErrorCode, gatewayError } from '../error-codes.ts';

/** The most edges one connection page may ask for. */
export const MAX_PAGE_SIZE = 500;
/** Page size when neither `first` nor `last` is given. */
export const DEFAULT_PAGE_SIZE = 50;

export interface PageArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

/** One upstream list call: Nomad's paging parameters in, the items and next token out. */
export type ListPage = (request: { perPage: number; nextToken?: string; reverse: boolean }) => Promise<{
  items: AllocListStub[];
  nextToken: string;
}>;

export interface AllocationPage {
  edges: { cursor: string; node: AllocListStub }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/**
 * Nomad orders a `prefix` listing by ID with bare-ID tokens, and any other listing by
 * (CreateIndex, ID) with `<CreateIndex>.<ID>` tokens. A cursor records which, so one from the
 * other kind of query is refused instead of silently resuming in the wrong place.
 */
export type OrderScheme = 'id' | 'create-index';

export function nomadToken(stub: AllocListStub, scheme: OrderScheme): string {
  return scheme === 'id' ? stub.ID : `${stub.CreateIndex}.${stub.ID}`;
}

const SCHEME_TAG: Record<OrderScheme, string> = { id: 'i', 'create-index': 'c' };

export function encodeCursor(token: string, scheme: OrderScheme): string {
  return Buffer.from(`${SCHEME_TAG[scheme]}:${token}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, scheme: OrderScheme): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const tag = SCHEME_TAG[scheme];
  const token = text.startsWith(`${tag}:`) ? text.slice(2) : '';
  const valid = scheme === 'id' ? /^[0-9a-f-]{36}$/.test(token) : /^\d+\.[0-9a-f-]{36}$/.test(token);
  if (!valid) {
    throw gatewayError(
      ErrorCode.BAD_USER_INPUT,
      `Invalid cursor "${cursor}": use a cursor from a page of the same query (a cursor from a prefix query works only with a prefix, and the other way round)`,
    );
  }
  return token;
}

function checkSize(name: 'first' | 'last', value: number): number {
  if (value < 0) throw gatewayError(ErrorCode.BAD_USER_INPUT, `\`${name}\` cannot be negative`);
  if (value > MAX_PAGE_SIZE) {
    throw gatewayError(ErrorCode.BAD_USER_INPUT, `\`${name}\` is at most ${MAX_PAGE_SIZE}; page through larger sets with cursors`, {
      maximum: MAX_PAGE_SIZE,
    });
  }
  return value;
}

/** Which way to read, how many, and from which Nomad token. */
export interface PagePlan {
  backward: boolean;
  size: number;
  from: string | undefined;
}

export function planPage(args: PageArgs, scheme: OrderScheme): PagePlan {
  const { first, after, last, before } = args;
  if (first != null && last != null) {
    throw gatewayError(ErrorCode.BAD_USER_INPUT, 'Give `first` (with `after`) or `last` (with `before`), not both');
  }
  if ((first != null && before != null) || (last != null && after != null) || (after != null && before != null)) {
    throw gatewayError(ErrorCode.BAD_USER_INPUT, 'Page forwards with `first`/`after` or backwards with `last`/`before`');
  }
  const backward = last != null || before != null;
  const size = backward ? checkSize('last', last ?? DEFAULT_PAGE_SIZE) : checkSize('first', first ?? DEFAULT_PAGE_SIZE);
  const cursor = backward ? before : after;
  return { backward, size, from: cursor == null ? undefined : decodeCursor(cursor, scheme) };
}

/**
 * Whether any edge lies on the far side of a cursor: at `token` or beyond it in the given direction.
 * The cursor's own item counts (if it still exists and still matches): the page holds only what is
 * strictly past the cursor, so that item belongs to the neighbouring page. Nomad's tokens are
 * inclusive, so one item read from `token` answers it.
 */
async function existsBeyond(list: ListPage, token: string, reverse: boolean): Promise<boolean> {
  const { items } = await list({ perPage: 1, nextToken: token, reverse });
  return items.length > 0;
}

/**
 * One Relay page over Nomad's paging. Nomad's tokens are inclusive, so the page is read from
 * the cursor's own token with one extra item, and the cursor's item is dropped if it is still
 * there. `hasPreviousPage` when paging forwards (and `hasNextPage` backwards) costs one small
 * extra call, made only when the client selected it.
 */
export async function fetchAllocationPage(options: {
  args: PageArgs;
  scheme: OrderScheme;
  list: ListPage;
  wantOppositeSide: boolean;
}): Promise<AllocationPage> {
  const { scheme, list } = options;
  const plan = planPage(options.args, scheme);
  const reverse = plan.backward;
  const fetched = await list({ perPage: plan.size + 1, nextToken: plan.from, reverse });
  let items = fetched.items;
  if (plan.from !== undefined && items[0] !== undefined && nomadToken(items[0], scheme) === plan.from) items = items.slice(1);
  const moreThisWay = items.length > plan.size || fetched.nextToken !== '';
  const page = items.slice(0, plan.size);
  if (reverse) page.reverse();
  const otherSide =
    plan.from !== undefined && options.wantOppositeSide ? await existsBeyond(list, plan.from, !reverse) : false;
  const edges = page.map((node) => ({ cursor: encodeCursor(nomadToken(node, scheme), scheme), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: reverse ? otherSide : moreThisWay,
      hasPreviousPage: reverse ? moreThisWay : otherSide,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges[edges.length - 1]?.cursor ?? null,
    },
  };
}
