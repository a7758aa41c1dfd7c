/**
 * The stand-in's answers to submissions: POST /urls, POST /files, GET /files/upload_url and the upload
 * URL it hands out, and GET /analyses/{id} for what was submitted (queued on the first look, completed
 * on the next, with the verdict of the recorded object when there is one). Nothing leaves the machine.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { buffer } from 'node:stream/consumers';
import { type Json, jsonObject } from '../util/json.js';
import { canonicalUrl } from '../vt/indicators.js';

interface Submitted {
  target: { type: 'url'; id: string; url: string } | { type: 'file'; sha256: string; size: number };
  polls: number;
  date: number;
}

export const UPLOAD_PREFIX = '/_upload/';

export class SubmissionDesk {
  readonly #analyses = new Map<string, Submitted>();
  /**
   * Files and URLs as received, for tests to inspect: a URL as submitted, a file by the sha256 and
   * length of exactly the bytes that arrived, and the file name the upload gave.
   */
  readonly received: Array<{ kind: 'url' | 'file'; value: string; bytes?: number; name?: string }> = [];
  #uploads = 0;

  constructor(
    private readonly lookup: (collection: string, id: string) => Json | undefined,
    private readonly origin: () => string,
  ) {}

  /** Answers the request if it is a submission or about one; returns false otherwise. */
  async handle(method: string, path: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (method === 'POST' && path === '/urls') {
      const form = new URLSearchParams((await readBody(req)).toString('utf8'));
      const url = canonicalUrl(form.get('url') ?? '');
      if (!url) return reply(res, 400, { error: { code: 'InvalidArgumentError', message: 'Invalid URL' } });
      this.received.push({ kind: 'url', value: url });
      const sha = createHash('sha256').update(url).digest('hex');
      const id = `u-${sha}-${Math.floor(Date.now() / 1000)}`;
      this.#analyses.set(id, { target: { type: 'url', id: sha, url }, polls: 0, date: Date.now() });
      return reply(res, 200, { data: { type: 'analysis', id, links: { self: `stand-in/analyses/${id}` } } });
    }
    if (method === 'GET' && path === '/files/upload_url') {
      return reply(res, 200, { data: `${this.origin()}${UPLOAD_PREFIX}${++this.#uploads}` });
    }
    if (method === 'POST' && (path === '/files' || path.startsWith(UPLOAD_PREFIX))) {
      const part = multipartFile(req.headers['content-type'] ?? '', await readBody(req));
      const file = part?.bytes;
      if (!file)
        return reply(res, 400, { error: { code: 'BadRequestError', message: 'No file in the request' } });
      const md5 = createHash('md5').update(file).digest('hex');
      const sha256 = createHash('sha256').update(file).digest('hex');
      this.received.push({ kind: 'file', value: sha256, bytes: file.length, name: part.name });
      const id = Buffer.from(`${md5}:${Math.floor(Date.now() / 1000)}`).toString('base64');
      this.#analyses.set(id, {
        target: { type: 'file', sha256, size: file.length },
        polls: 0,
        date: Date.now(),
      });
      return reply(res, 200, { data: { type: 'analysis', id } });
    }
    if (method === 'GET' && path.startsWith('/analyses/')) {
      const sub = this.#analyses.get(decodeURIComponent(path.slice('/analyses/'.length)));
      if (!sub) return false;
      sub.polls++;
      return reply(res, 200, this.#analysis(decodeURIComponent(path.slice('/analyses/'.length)), sub));
    }
    return false;
  }

  #analysis(id: string, sub: Submitted): Json {
    const t = sub.target;
    const known = t.type === 'url' ? this.lookup('urls', t.id) : this.lookup('files', t.sha256);
    const a = jsonObject(known?.attributes) ?? {};
    const completed = sub.polls >= 2;
    const meta =
      t.type === 'url'
        ? { url_info: { id: t.id, url: t.url } }
        : { file_info: { sha256: t.sha256, size: t.size } };
    return {
      data: {
        type: 'analysis',
        id,
        attributes: {
          date: Math.floor(sub.date / 1000),
          status: completed ? 'completed' : 'queued',
          stats: completed
            ? (a.last_analysis_stats ?? {
                harmless: 0,
                malicious: 0,
                suspicious: 0,
                undetected: 60,
                timeout: 0,
              })
            : { harmless: 0, malicious: 0, suspicious: 0, undetected: 0, timeout: 0 },
          results: completed ? (a.last_analysis_results ?? {}) : {},
        },
      },
      meta,
    };
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return buffer(req);
}

/** The bytes (and file name, as sent) of the part named "file" of a multipart/form-data body. */
function multipartFile(contentType: string, body: Buffer): { bytes: Buffer; name: string } | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const b = boundary?.[1] ?? boundary?.[2];
  if (!b) return undefined;
  const delimiter = Buffer.from(`--${b}`);
  let start = body.indexOf(delimiter);
  while (start !== -1) {
    const next = body.indexOf(delimiter, start + delimiter.length);
    if (next === -1) break;
    const part = body.subarray(start + delimiter.length + 2, next - 2); // skip CRLF after delimiter and before next
    const headerEnd = part.indexOf('\r\n\r\n');
    const headers = headerEnd === -1 ? '' : part.subarray(0, headerEnd).toString('utf8');
    if (/; name="file"/.test(headers)) {
      return { bytes: part.subarray(headerEnd + 4), name: /filename="([^"]*)"/.exec(headers)?.[1] ?? '' };
    }
    start = next;
  }
  return undefined;
}

function reply(res: ServerResponse, status: number, body: unknown): true {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
  return true;
}
