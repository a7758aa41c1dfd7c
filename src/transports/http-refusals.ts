/**
 * The HTTP transport's refusals and reading: the rate-bounded log of refused requests and connections,
 * the body reader with its size and time limits, and the plain and JSON-RPC error answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';

/** A header value as it may appear in a log line: quoted, printable, short. */
export function quoted(value: string | undefined): string {
  if (value === undefined) return '(none)';
  const printable = value.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(printable.length > 100 ? `${printable.slice(0, 100)}...` : printable);
}

/**
 * One warning line per refused request or connection. Past 100 lines in 10 s (a flood), the rest are
 * counted and the count is logged when the 10 s are over, so a flood cannot fill the disk.
 */
export class RefusalLog {
  #windowStart = 0;
  #lines = 0;
  #suppressed = 0;
  #timer: NodeJS.Timeout | undefined;
  constructor(private readonly log: Logger) {}

  request(req: IncomingMessage, path: string, reason: string): void {
    const shownPath = quoted(path).slice(1, -1);
    this.#emit(
      `http: refused ${req.method ?? '?'} ${shownPath} from ${req.socket.remoteAddress ?? 'unknown'}: ${reason}`,
    );
  }

  connection(remote: string | undefined, reason: string): void {
    this.#emit(`http: refused a connection from ${remote ?? 'unknown'}: ${reason}`);
  }

  evicted(remote: string | undefined, reason: string): void {
    this.#emit(
      `http: closed an idle connection from ${remote ?? 'unknown'} that carried no authenticated request, ${reason}`,
    );
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #emit(line: string): void {
    const now = Date.now();
    if (now - this.#windowStart >= 10_000) {
      this.#windowStart = now;
      this.#lines = 0;
    }
    if (this.#lines < 100) {
      this.#lines++;
      this.log.warn(line);
      return;
    }
    this.#suppressed++;
    this.#timer ??= setTimeout(
      () => {
        this.#timer = undefined;
        this.log.warn(`http: ${this.#suppressed} more refusals in a flood were not logged one by one`);
        this.#suppressed = 0;
      },
      Math.max(1, this.#windowStart + 10_000 - now),
    ).unref();
  }
}

export const TOO_LARGE = Symbol('too large');
export const BAD_JSON = Symbol('bad json');
export const TIMED_OUT = Symbol('timed out');
export const CLOSED = Symbol('closed');

/** Reads a JSON body of at most max bytes within ms, without holding more than max in memory. */
export function readJson(req: IncomingMessage, max: number, ms: number): Promise<unknown> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (value: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onClose);
      req.off('close', onClose);
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) return finish(TOO_LARGE);
      chunks.push(chunk);
    };
    const onEnd = () => {
      try {
        finish(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        finish(BAD_JSON);
      }
    };
    const onClose = () => finish(req.complete ? BAD_JSON : CLOSED);
    const timer = setTimeout(() => finish(TIMED_OUT), ms);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onClose);
    req.on('close', onClose);
  });
}

export function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`${text}\n`);
}

export function jsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}
