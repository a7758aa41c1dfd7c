/**
 * What tools call to reach VirusTotal. Today it is a thin pass-through to the HTTP client that
 * stamps each answer with when it was fetched; the rate limiter, queue and cache live behind this
 * same interface, so tools never change when the mediation does.
 */
import type { QueryValue, VtApi } from './client.js';

export interface FetchRequest {
  path: string;
  query?: Record<string, QueryValue>;
  signal?: AbortSignal;
  /** Skip any cached answer. */
  fresh?: boolean;
}

export interface Fetched<T> {
  body: T;
  fetchedAt: Date;
  fromCache: boolean;
}

export interface VtGateway {
  readonly hasKey: boolean;
  fetch<T = unknown>(req: FetchRequest): Promise<Fetched<T>>;
}

export class DirectGateway implements VtGateway {
  constructor(private readonly api: VtApi) {}

  get hasKey(): boolean {
    return this.api.hasKey;
  }

  async fetch<T = unknown>(req: FetchRequest): Promise<Fetched<T>> {
    const body = await this.api.get<T>(req.path, { query: req.query, signal: req.signal });
    return { body, fetchedAt: new Date(), fromCache: false };
  }
}
