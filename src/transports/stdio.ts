/**
 * stdio transport: newline-delimited JSON-RPC on stdin/stdout, like the SDK's StdioServerTransport,
 * except for what happens to a message over the size limit. The SDK's ReadBuffer throws, and its
 * transport then closes itself silently: stdin is paused, nothing is answered, and the process either
 * exits 0 (nothing else keeps it alive) or lingers deaf. Here an oversized message is discarded up to
 * its newline without being held in memory, one line on stderr says why, the request is answered with
 * a JSON-RPC error when its id can be read, and the next message is served as usual.
 */
import process from 'node:process';
import type { Readable, Writable } from 'node:stream';
import type { JSONRPCMessage, RequestId, Transport } from '@modelcontextprotocol/server';
import {
  deserializeMessage,
  STDIO_DEFAULT_MAX_BUFFER_SIZE,
  serializeMessage,
} from '@modelcontextprotocol/server';
import type { Logger } from '../log.js';

/** The JSON-RPC code for an invalid request. */
const INVALID_REQUEST = -32600;
/** Bytes kept from each end of a discarded message, to find its id. */
const EDGE = 4096;

export interface StdioOptions {
  log: Logger;
  stdin?: Readable;
  stdout?: Writable;
  /** The largest message accepted, in bytes (default 10 MB, the SDK's). */
  maxMessageBytes?: number;
}

interface Discarding {
  head: Buffer;
  tail: Buffer;
  size: number;
  answered: boolean;
}

export class GuardedStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  readonly #stdin: Readable;
  readonly #stdout: Writable;
  readonly #max: number;
  readonly #log: Logger;
  #chunks: Buffer[] = [];
  #size = 0;
  #discarding: Discarding | undefined;
  #started = false;
  /** The wait for stdout to drain that every send made while it is behind shares. */
  #drained: Promise<void> | undefined;

  constructor(opts: StdioOptions) {
    this.#stdin = opts.stdin ?? process.stdin;
    this.#stdout = opts.stdout ?? process.stdout;
    this.#max = opts.maxMessageBytes ?? STDIO_DEFAULT_MAX_BUFFER_SIZE;
    this.#log = opts.log;
  }

  async start(): Promise<void> {
    if (this.#started) throw new Error('GuardedStdioTransport already started.');
    this.#started = true;
    this.#stdin.on('data', this.#ondata);
    this.#stdin.on('error', this.#onstreamerror);
  }

  async close(): Promise<void> {
    this.#stdin.off('data', this.#ondata);
    this.#stdin.off('error', this.#onstreamerror);
    if (this.#stdin.listenerCount('data') === 0) this.#stdin.pause();
    this.#chunks = [];
    this.#size = 0;
    this.#discarding = undefined;
    this.onclose?.();
  }

  /**
   * Resolves once stdout has taken the message: at once, or when a backed-up stdout drains. Every send
   * made while stdout is behind waits on the same 'drain': one listener per message would pile up
   * hundreds when a client sends many requests at once and reads slowly (Node warns past 10). A stdout
   * that closes (a failed one closes too) never drains: its waiters are let go then.
   */
  async send(message: JSONRPCMessage): Promise<void> {
    if (this.#stdout.write(serializeMessage(message))) return;
    this.#drained ??= new Promise<void>((resolve) => {
      const done = () => {
        this.#stdout.off('drain', done);
        this.#stdout.off('close', done);
        this.#drained = undefined;
        resolve();
      };
      this.#stdout.on('drain', done);
      this.#stdout.on('close', done);
    });
    return this.#drained;
  }

  readonly #onstreamerror = (error: Error) => this.onerror?.(error);

  readonly #ondata = (chunk: Buffer | string) => {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let start = 0;
    while (start <= buf.length) {
      const nl = buf.indexOf(0x0a, start);
      this.#take(buf.subarray(start, nl === -1 ? buf.length : nl));
      if (nl === -1) break;
      this.#endOfLine();
      start = nl + 1;
    }
  };

  /** Adds part of the current line: kept whole within the limit, else only its two ends. */
  #take(piece: Buffer): void {
    if (piece.length === 0) return;
    const d = this.#discarding;
    if (d) {
      d.size += piece.length;
      d.tail = lastBytes(Buffer.concat([d.tail, piece.subarray(Math.max(0, piece.length - EDGE))]), EDGE);
      return;
    }
    if (this.#size + piece.length <= this.#max) {
      this.#chunks.push(piece);
      this.#size += piece.length;
      return;
    }
    const d2: Discarding = {
      head: firstBytes([...this.#chunks, piece], EDGE),
      tail: lastBytes(Buffer.concat([...this.#chunks.slice(-1), piece]), EDGE),
      size: this.#size + piece.length,
      answered: false,
    };
    this.#discarding = d2;
    this.#chunks = [];
    this.#size = 0;
    const id = this.#requestId(d2, false);
    this.#log.warn(
      `stdio: a message of over ${this.#max} bytes was received (the limit per message): ` +
        (id === undefined
          ? 'it is discarded up to its end and answered with an error if its id can be read'
          : `request ${JSON.stringify(id)} is answered with an error and the rest of it is discarded`) +
        '; the server keeps serving',
    );
    if (id !== undefined) {
      this.#refuse(id);
      d2.answered = true;
    }
  }

  #endOfLine(): void {
    const d = this.#discarding;
    if (d) {
      this.#discarding = undefined;
      const id = d.answered ? undefined : this.#requestId(d, true);
      if (id !== undefined) this.#refuse(id);
      return;
    }
    const line = Buffer.concat(this.#chunks).toString('utf8').replace(/\r$/, '');
    this.#chunks = [];
    this.#size = 0;
    if (line.trim() === '') return;
    let message: JSONRPCMessage;
    try {
      message = deserializeMessage(line);
    } catch (err) {
      this.#log.warn(`stdio: ignored a line of ${line.length} characters that is not a JSON-RPC message`);
      this.onerror?.(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.onmessage?.(message);
  }

  /**
   * The id of a discarded request, read where a top-level key is unambiguous: first (or after
   * "jsonrpc") at the start, or last before the closing brace at the end, as the SDK's clients write
   * it. Only a request is answered: the head must name a "method" before any nested object opens.
   */
  #requestId(d: Discarding, complete: boolean): RequestId | undefined {
    const head = d.head.toString('utf8');
    if (!/^\s*\{[^{[]*"method"\s*:/.test(head)) return undefined;
    const value = String.raw`("(?:[^"\\]|\\.){0,200}"|-?\d{1,16})`;
    const first = new RegExp(
      String.raw`^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*${value}\s*,`,
    ).exec(head);
    const last = complete
      ? new RegExp(String.raw`[,{]\s*"id"\s*:\s*${value}\s*\}\s*\r?$`).exec(d.tail.toString('utf8'))
      : null;
    const raw = first?.[1] ?? last?.[1];
    if (raw === undefined) return undefined;
    try {
      const id: unknown = JSON.parse(raw);
      return typeof id === 'string' || typeof id === 'number' ? id : undefined;
    } catch {
      return undefined;
    }
  }

  #refuse(id: RequestId): void {
    void this.send({
      jsonrpc: '2.0',
      id,
      error: {
        code: INVALID_REQUEST,
        message:
          `Request too large: over ${this.#max} bytes, the limit for one stdio message. It was not processed; ` +
          'send less (for example, split a long list into several calls).',
      },
    });
  }
}

function firstBytes(chunks: Buffer[], n: number): Buffer {
  const out: Buffer[] = [];
  let size = 0;
  for (const c of chunks) {
    if (size >= n) break;
    out.push(c.subarray(0, n - size));
    size += Math.min(c.length, n - size);
  }
  return Buffer.concat(out);
}

function lastBytes(buf: Buffer, n: number): Buffer {
  return buf.length <= n ? buf : buf.subarray(buf.length - n);
}
