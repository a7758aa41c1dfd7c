/**
 * vt_search over every recorded intelligence search (routed in fixtures/vt/manifest.json), through the
 * MCP client against the stand-in API: sizes, totals, cursors (the recorded two-page pair and the
 * stand-in's slices), VT's query errors worded as advice, and keys without VT Intelligence.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_FIXTURES, manifestRoutes, type RequestHook, send } from '../src/demo/recorded-api.js';
import { type Harness, startHarness, textOf } from './helpers/harness.js';

type Json = Record<string, unknown>;

const MANIFEST = { routes: manifestRoutes() };

function load(file: string, pick?: string): Json {
  const body = JSON.parse(readFileSync(`${BUNDLED_FIXTURES}/${file}`, 'utf8')) as Json;
  return pick !== undefined ? { data: body[pick] } : body;
}

const SEARCHES = MANIFEST.routes
  .filter((r) => r.path === '/intelligence/search' && r.query?.query)
  .map((r) => {
    const body = load(r.file, r.pick);
    const meta = (body.meta ?? {}) as Json;
    return {
      query: r.query?.query as string,
      file: r.file,
      data: (body.data ?? []) as Json[],
      total: typeof meta.total_hits === 'number' ? meta.total_hits : undefined,
      cursor: typeof meta.cursor === 'string' ? meta.cursor : undefined,
      next: r.next,
    };
  });

function idOf(o: Json): string {
  const a = (o.attributes ?? {}) as Json;
  return o.type === 'file' && typeof a.sha256 === 'string' ? a.sha256 : String(o.id);
}

function sc(res: { structuredContent?: unknown }): Json {
  return (res.structuredContent ?? {}) as Json;
}

function ids(res: { structuredContent?: unknown }): string[] {
  return ((sc(res).items ?? []) as Json[]).map((i) => String(i.id));
}

describe('vt_search against the recordings', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('has recordings to test', () => {
    expect(SEARCHES.length).toBeGreaterThanOrEqual(7);
  });

  it.each(SEARCHES.map((s) => [`${s.query} (${s.file})`, s] as const))(
    'summarises %s within 6,000 characters with its total and cursor',
    async (_name, s) => {
      const res = await h.call('vt_search', { query: s.query });
      expect(res.isError, textOf(res)).toBeFalsy();
      const text = textOf(res);
      expect(text.length).toBeLessThanOrEqual(6000);
      expect(ids(res)).toEqual(s.data.slice(0, 10).map(idOf));
      expect(sc(res).total).toBe(s.total);
      // The query is a code span (its own quotes stay as typed); the count is worded for both cases.
      expect(text).toContain(`VT Intelligence \`${s.query}\`: `);
      if (s.total !== undefined && s.data.length > 0) {
        expect(text).toContain(
          `: ${s.total} hit${s.total === 1 ? '' : 's'}, ${Math.min(10, s.data.length)} shown`,
        );
      }
      if (s.total === undefined && s.data.length > 0) {
        const n = Math.min(10, s.data.length);
        expect(text).toContain(`: ${n} hit${n === 1 ? '' : 's'} shown (VirusTotal gave no total).`);
      }
      const more = s.data.length > 10 || s.cursor !== undefined;
      expect(typeof sc(res).next_cursor === 'string').toBe(more);
      if (more) expect(text).toContain(`More: cursor=${sc(res).next_cursor as string}`);
      if (s.data.length === 0) {
        expect(text).toContain(
          'Nothing matched; check the modifiers (resource vt://docs/search-syntax) or widen the dates.',
        );
      }
      // URL hits are code spans, not links to click; file names are quoted.
      for (const line of text.split('\n').filter((l) => /^\d+\. url /.test(l))) {
        expect(line).toMatch(/^\d+\. url `[^`]+`/);
      }
      for (const line of text.split('\n').filter((l) => / · name /.test(l))) {
        expect(line).toMatch(/ · name "[^"]*"/);
      }
      // The query went upstream as given, with the limit.
      const sent = h.api.requests.filter((r) => r.path === '/intelligence/search').at(-1);
      expect(sent?.query.query).toBe(s.query);
      expect(sent?.query.limit).toBe('10');
    },
  );

  it('pages the recorded two-page search with VT’s own cursor', async () => {
    const pair = SEARCHES.find((s) => s.next);
    if (!pair?.next || !pair.cursor) throw new Error('expected a two-page recording');
    const page2 = load(pair.next);
    const p1 = await h.call('vt_search', { query: pair.query });
    expect(sc(p1).next_cursor).toBe(pair.cursor);
    const p2 = await h.call('vt_search', { query: pair.query, cursor: sc(p1).next_cursor });
    expect(p2.isError, textOf(p2)).toBeFalsy();
    expect(h.api.requests.at(-1)?.query).toMatchObject({ query: pair.query, cursor: pair.cursor });
    expect(ids(p2)).toEqual((page2.data as Json[]).map(idOf));
    // Page 2 hands on its own cursor, not page 1's.
    expect(sc(p2).next_cursor).toBe((page2.meta as Json).cursor);
    expect(sc(p2).next_cursor).not.toBe(sc(p1).next_cursor);
    // (The recorded page 2 happens to list the same ten URLs as page 1: the recording repeats them.)
  });

  it('pages through the first recorded page without overlap, then on to the second', async () => {
    const pair = SEARCHES.find((s) => s.next);
    if (!pair?.next) throw new Error('expected a two-page recording');
    const p1 = await h.call('vt_search', { query: pair.query, limit: 5 });
    const p2 = await h.call('vt_search', { query: pair.query, limit: 5, cursor: sc(p1).next_cursor });
    expect(ids(p1)).toEqual(pair.data.slice(0, 5).map(idOf));
    expect(ids(p2)).toEqual(pair.data.slice(5, 10).map(idOf));
    expect(ids(p2).filter((id) => ids(p1).includes(id))).toEqual([]);
    expect(sc(p2).next_cursor).toBe(pair.cursor);
    const p3 = await h.call('vt_search', { query: pair.query, limit: 5, cursor: sc(p2).next_cursor });
    expect(p3.isError).toBeFalsy();
    expect(ids(p3).length).toBeGreaterThan(0);
  });

  it('pages with a limit smaller than the recorded page', async () => {
    const s = SEARCHES.find((x) => x.query === 'size:1KB- name:eicar type:text');
    if (!s) throw new Error('expected the eicar search recording');
    const p1 = await h.call('vt_search', { query: s.query, limit: 4 });
    const p2 = await h.call('vt_search', { query: s.query, limit: 4, cursor: sc(p1).next_cursor });
    expect(ids(p1)).toEqual(s.data.slice(0, 4).map(idOf));
    expect(ids(p2)).toEqual(s.data.slice(4, 8).map(idOf));
  });

  it('passes order and descriptors_only upstream', async () => {
    await h.call('vt_search', {
      query: 'entity:domain domain:ninoseki',
      order: 'creation_date-',
      descriptors_only: true,
      limit: 3,
    });
    const sent = h.api.requests.at(-1);
    expect(sent?.query).toMatchObject({ order: 'creation_date-', descriptors_only: 'true', limit: '3' });
  });

  it('refuses a malformed order without an upstream request', async () => {
    const before = h.api.requests.length;
    const res = await h.call('vt_search', { query: 'type:peexe', order: 'positives; DROP' });
    expect(res.isError).toBe(true);
    expect(textOf(res)).toContain('not a sort order');
    expect(h.api.requests.length).toBe(before);
  });

  it('answers a query that matches nothing', async () => {
    const res = await h.call('vt_search', { query: 'imphash:00000000000000000000000000000000' });
    expect(res.isError).toBeFalsy();
    expect(sc(res).total).toBe(0);
    expect(textOf(res)).toContain(
      'VT Intelligence `imphash:00000000000000000000000000000000`: 0 hits. Nothing matched; check the ' +
        'modifiers (resource vt://docs/search-syntax) or widen the dates.',
    );
  });

  it('says "1 hit" and quotes a query that holds quotes without nesting them', async () => {
    const res = await h.call('vt_search', { query: 'size:1KB- ls:"2021-09-18T00:00:00"' });
    expect(textOf(res)).toContain('VT Intelligence `size:1KB- ls:"2021-09-18T00:00:00"`: 1 hit, 1 shown.');
  });

  it('fences a query that holds backticks so it cannot close the code span', async () => {
    const res = await h.call('vt_search', { query: 'name:"a`b"' });
    expect(textOf(res)).toContain('VT Intelligence ``name:"a`b"``: 0 hits.');
  });
});

function failWith(status: number, code: string, message: string): RequestHook {
  return (req, res) => {
    if (req.path !== '/intelligence/search') return false;
    send(res, status, { error: { code, message } });
    return true;
  };
}

describe('vt_search errors', () => {
  it('turns an unselective content query into advice on narrowing it', async () => {
    const h = await startHarness({
      api: {
        hook: failWith(400, 'UnselectiveContentQueryError', 'Content search query is not selective enough'),
      },
    });
    try {
      const res = await h.call('vt_search', { query: 'content:"http"' });
      expect(res.isError).toBe(true);
      const text = textOf(res);
      expect(text).toContain('too unselective');
      expect(text).toContain('not selective enough');
      expect(text).toMatch(/type:peexe|fs:30d\+/);
    } finally {
      await h.close();
    }
  });

  it('turns a bad modifier into advice that points at the syntax reference', async () => {
    const h = await startHarness({
      api: { hook: failWith(400, 'InvalidArgumentError', 'Unknown modifier: tpye') },
    });
    try {
      const res = await h.call('vt_search', { query: 'tpye:peexe' });
      expect(res.isError).toBe(true);
      const text = textOf(res);
      expect(text).toContain('InvalidArgumentError');
      expect(text).toContain('Unknown modifier: tpye');
      expect(text).toContain('vt://docs/search-syntax');
    } finally {
      await h.close();
    }
  });

  it('says when the key has no VT Intelligence access and offers what it can do', async () => {
    const h = await startHarness({
      api: { hook: failWith(403, 'ForbiddenError', 'You are not allowed to perform this action') },
    });
    try {
      const res = await h.call('vt_search', { query: 'type:peexe p:5+' });
      expect(res.isError).toBe(true);
      const text = textOf(res);
      expect(text).toContain('no VT Intelligence access');
      expect(text).toContain('vt_get_report');
      expect(text).toContain('vt_get_relationships');
    } finally {
      await h.close();
    }
  });

  it('shows descriptors as one short line each', async () => {
    const h = await startHarness({
      api: {
        hook: (req, res) => {
          if (req.path !== '/intelligence/search') return false;
          send(res, 200, {
            data: [
              { type: 'file', id: 'a'.repeat(64) },
              { type: 'domain', id: 'evil.example' },
            ],
            meta: { total_hits: 2 },
          });
          return true;
        },
      },
    });
    try {
      const res = await h.call('vt_search', { query: 'tag:signed', descriptors_only: true });
      const text = textOf(res);
      expect(text).toContain(`1. file ${'a'.repeat(64)}\n`);
      expect(text).toContain('2. domain evil.example\n');
      expect(text).toContain('No more results.');
    } finally {
      await h.close();
    }
  });
});
