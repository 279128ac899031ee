/**
 * Nomad's paginator (`nomad/state/paginator`): tokens are inclusive, filtered-out items do not
 * count toward `per_page`, and the first item past a full page becomes the next token.
 */

/** Compares an item against the requested `next_token`: negative when it sorts before it. */
export type TokenComparer<T> = (item: T, target: string) => number;

export interface PageRequest<T> {
  /** Items in ascending scan order. */
  items: readonly T[];
  tokenOf: (item: T) => string;
  compare: TokenComparer<T>;
  nextToken: string;
  /** 0: no paging. Negative: an empty page whose next token is the first match. */
  perPage: number;
  reverse: boolean;
  /** Filter and ACL selection; may throw to abort the request. */
  accept: (item: T) => boolean;
}

export interface Page<T> {
  items: T[];
  /** Empty when nothing follows. */
  nextToken: string;
}

export function paginate<T>(request: PageRequest<T>): Page<T> {
  const { items, perPage, reverse, nextToken } = request;
  const page: T[] = [];
  const count = items.length;
  for (let n = 0; n < count; n++) {
    const item = items[reverse ? count - 1 - n : n] as T;
    if (nextToken !== '') {
      const order = request.compare(item, nextToken);
      if (reverse ? order > 0 : order < 0) continue;
    }
    if (!request.accept(item)) continue;
    if (perPage !== 0 && page.length >= Math.max(perPage, 0)) {
      return { items: page, nextToken: request.tokenOf(item) };
    }
    page.push(item);
  }
  return { items: page, nextToken: '' };
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Nomad's ID tokenizer (prefix listings): the bare ID, compared as a string. */
export function idToken(item: { ID: string }): string {
  return item.ID;
}

export function compareById(item: { ID: string }, target: string): number {
  return compareStrings(item.ID, target);
}

/** Nomad's create-index tokenizer: `<CreateIndex>.<ID>`. */
export function createIndexToken(item: { ID: string; CreateIndex: bigint }): string {
  return `${item.CreateIndex}.${item.ID}`;
}

/**
 * Compares by CreateIndex numerically, then ID, when the target is `<uint>.<rest>`; any other
 * target is compared with the whole token as a plain string, as Nomad does.
 */
export function compareByCreateIndex(item: { ID: string; CreateIndex: bigint }, target: string): number {
  const dot = target.indexOf('.');
  const indexText = dot === -1 ? '' : target.slice(0, dot);
  if (!/^\d+$/.test(indexText) || BigInt(indexText) > 18446744073709551615n) {
    return compareStrings(createIndexToken(item), target);
  }
  const targetIndex = BigInt(indexText);
  if (item.CreateIndex !== targetIndex) return item.CreateIndex < targetIndex ? -1 : 1;
  return compareStrings(item.ID, target.slice(dot + 1));
}
