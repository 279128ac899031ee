import { describe, expect, it } from 'vitest';
import { decodeGlobalId, encodeGlobalId, ENTITY_TYPES, type EntityKey } from '../../../src/schema/global-id.ts';

const UUID = '5c3e2b1a-9f4d-4e8b-a7c6-0d1e2f3a4b5c';
const OTHER_UUID = 'e0b1c2d3-0000-4000-8000-000000000000';

/** base64url of a text, as a client that forges an id would write it. */
function b64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

/**
 * The same bytes as `id`, written with non-zero unused bits in its last character: a decoder that
 * ignores those bits (Node's does) reads the same text, but it is not the id this API wrote.
 */
function withUnusedBitsSet(id: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  if (id.length % 4 === 0) throw new Error('an id without unused bits');
  const last = alphabet.indexOf(id.at(-1) ?? '');
  return `${id.slice(0, -1)}${alphabet[last ^ 1] ?? ''}`;
}

describe('global ids', () => {
  describe('round trip', () => {
    const keys: EntityKey[] = [
      { type: 'Allocation', id: UUID },
      { type: 'ClientNode', id: UUID },
      { type: 'Evaluation', id: UUID },
      { type: 'Job', namespace: 'default', id: 'web' },
    ];

    it('should cover every entity type', () => {
      expect(keys.map((k) => k.type).sort()).toEqual([...ENTITY_TYPES].sort());
    });

    for (const key of keys) {
      it(`should decode the global id of ${JSON.stringify(key)} back to the same key`, () => {
        const id = encodeGlobalId(key);
        expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(decodeGlobalId(id)).toEqual(key);
      });
    }

    it('should write base64url of `<Type>:<Nomad key>`, without padding', () => {
      expect(encodeGlobalId({ type: 'Allocation', id: UUID })).toBe(b64url(`Allocation:${UUID}`));
      expect(encodeGlobalId({ type: 'Job', namespace: 'prod', id: 'payments' })).toBe(b64url('Job:prod/payments'));
      expect(encodeGlobalId({ type: 'Allocation', id: UUID })).not.toContain('=');
    });

    it('should give the same Nomad id a different global id for each type', () => {
      const ids = (['Allocation', 'ClientNode', 'Evaluation'] as const).map((type) => encodeGlobalId({ type, id: UUID }));
      expect(new Set(ids).size).toBe(3);
    });

    it('should keep a job\'s namespace in its id: the same job id in two namespaces gives two ids', () => {
      const prod = encodeGlobalId({ type: 'Job', namespace: 'prod', id: 'payments' });
      const staging = encodeGlobalId({ type: 'Job', namespace: 'staging', id: 'payments' });
      expect(prod).not.toBe(staging);
      expect(decodeGlobalId(prod)).toEqual({ type: 'Job', namespace: 'prod', id: 'payments' });
      expect(decodeGlobalId(staging)).toEqual({ type: 'Job', namespace: 'staging', id: 'payments' });
    });

    it('should round-trip any namespace Nomad allows and job ids with slashes, colons, spaces and non-ASCII text', () => {
      const namespaces = ['default', 'team-a', 'Team-B', '0', 'a'.repeat(128)];
      const jobIds = ['web', 'a/b/c', 'batch:nightly', 'with space', 'we"ird\\job`tick', 'café-☕', '/', 'x'.repeat(300)];
      for (const namespace of namespaces) {
        for (const id of jobIds) {
          const key: EntityKey = { type: 'Job', namespace, id };
          expect(decodeGlobalId(encodeGlobalId(key)), JSON.stringify(key)).toEqual(key);
        }
      }
    });
  });

  describe('decode refuses', () => {
    const valid = encodeGlobalId({ type: 'Allocation', id: UUID });

    function refuses(label: string, ids: string[]): void {
      it(`should refuse ${label}`, () => {
        for (const id of ids) expect(decodeGlobalId(id), id).toBeUndefined();
      });
    }

    refuses('text that is not base64url', ['', ' ', 'not an id', `${valid} `, ` ${valid}`, `${valid}!`, 'QWxs*b2Nh', UUID.replaceAll('-', '.')]);

    /** A valid job key whose standard base64 has a `+` where base64url has a `-`. */
    const PLUS_TEXT = 'Job:default/j?>?>';

    refuses('the standard base64 alphabet, which this API never writes', [Buffer.from(PLUS_TEXT, 'utf8').toString('base64').replace(/=+$/, '')]);

    it('should have a standard base64 example that differs from base64url only in its alphabet', () => {
      const text = PLUS_TEXT;
      expect(Buffer.from(text).toString('base64').replace(/=+$/, '')).toMatch(/\+/);
      expect(decodeGlobalId(b64url(text))).toEqual({ type: 'Job', namespace: 'default', id: 'j?>?>' });
    });

    refuses('padding', [`${valid}=`, `${valid}==`, Buffer.from(`Allocation:${UUID}`).toString('base64'), `${encodeGlobalId({ type: 'Job', namespace: 'default', id: 'ab' })}=`]);

    it('should refuse a non-canonical encoding of a valid key (unused bits set), though it decodes to the same text', () => {
      const forged = withUnusedBitsSet(valid);
      expect(forged).not.toBe(valid);
      expect(Buffer.from(forged, 'base64url').toString('utf8')).toBe(`Allocation:${UUID}`);
      expect(decodeGlobalId(forged)).toBeUndefined();
      const job = encodeGlobalId({ type: 'Job', namespace: 'prod', id: 'payments' });
      expect(decodeGlobalId(withUnusedBitsSet(job))).toBeUndefined();
    });

    refuses('a truncated id', [valid.slice(0, -1), valid.slice(0, -2), valid.slice(0, 1)]);

    refuses('bytes that are not UTF-8', [Buffer.concat([Buffer.from('Allocation:'), Buffer.from([0xff, 0xfe])]).toString('base64url')]);

    refuses('an unknown type, a type in another case, the old type name Node, or no type at all', [
      b64url(`Deployment:${UUID}`),
      b64url(`allocation:${UUID}`),
      b64url(`ALLOCATION:${UUID}`),
      b64url(`Node:${UUID}`),
      b64url(`Service:${UUID}`),
      b64url(UUID),
      b64url(`:${UUID}`),
      b64url(`Allocation ${UUID}`),
    ]);

    refuses('a key that is not a UUID', [
      b64url('Allocation:'),
      b64url('Allocation:abc'),
      b64url(`Allocation:${UUID.slice(0, 8)}`),
      b64url(`Allocation:${UUID.replaceAll('-', '')}`),
      b64url(`Allocation:${UUID} `),
      b64url(`Allocation: ${UUID}`),
      b64url(`Allocation:${UUID}0`),
      b64url(`Allocation:${UUID}/x`),
      b64url(`ClientNode:${UUID.slice(0, 35)}g`),
      b64url('Evaluation:not-a-uuid'),
      b64url(`Evaluation:${UUID},${OTHER_UUID}`),
    ]);

    refuses('a UUID in uppercase, which Nomad never writes (each object has exactly one global id)', [
      b64url(`Allocation:${UUID.toUpperCase()}`),
      b64url(`ClientNode:${OTHER_UUID.toUpperCase()}`),
      b64url(`Evaluation:${UUID.slice(0, 9)}${UUID.slice(9).toUpperCase()}`),
    ]);

    refuses('a Job without a namespace or without a job id', [
      b64url('Job:'),
      b64url('Job:web'),
      b64url('Job:/web'),
      b64url('Job:default/'),
      b64url('Job:/'),
      b64url('Job'),
    ]);

    refuses('a Job whose namespace has characters Nomad forbids, or is too long', [
      b64url('Job:team_a/web'),
      b64url('Job:team a/web'),
      b64url('Job:team.a/web'),
      b64url('Job:café/web'),
      b64url('Job:*/web'),
      b64url('Job:team:a/web'),
      b64url('Job: default/web'),
      b64url(`Job:${'a'.repeat(129)}/web`),
    ]);
  });
});
