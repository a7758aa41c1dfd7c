/** Upstream faults the stand-in can play, chosen per request by a seeded generator so runs repeat. */
import type { ServerResponse } from 'node:http';
import type { RequestHook } from '../../src/demo/recorded-api.js';

export const FAULTS = ['500', '503', '429', 'reset', 'hang', 'truncated', 'huge'] as const;
export type Fault = (typeof FAULTS)[number];

/** A marker inside every fault body: it must never reach an answer. */
export const FAULT_MARKER = 'FAULT-BODY-c0ffee';

/** Mulberry32: a tiny seeded PRNG, so a failing run can be replayed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function faultInjector(rate: number, seed = 42) {
  const rand = seeded(seed);
  const played: Record<string, number> = {};
  const hanging = new Set<ServerResponse>();
  let enabled = true;
  const hook: RequestHook = (_req, res) => {
    if (!enabled || rand() >= rate) return false;
    const fault = FAULTS[Math.floor(rand() * FAULTS.length)] as Fault;
    played[fault] = (played[fault] ?? 0) + 1;
    const json = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        ...headers,
      });
      res.end(body);
    };
    switch (fault) {
      case '500':
        json(500, `{"error":{"code":"InternalError","message":"${FAULT_MARKER}"}}`);
        break;
      case '503':
        json(503, `{"error":{"code":"TransientError","message":"${FAULT_MARKER}"}}`);
        break;
      case '429':
        json(429, `{"error":{"code":"QuotaExceededError","message":"${FAULT_MARKER}"}}`);
        break;
      case 'reset':
        res.socket?.destroy();
        break;
      case 'hang':
        // Never answers: the client's timeout must end it.
        hanging.add(res);
        break;
      case 'truncated':
        json(200, `{"data":{"type":"file","id":"${FAULT_MARKER}","attributes":{"names":["a`);
        break;
      case 'huge': {
        // 33 MB of valid-looking JSON, more than the client accepts (32 MB).
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(1024 * 1024, 0x61);
        res.write(`{"data":{"id":"${FAULT_MARKER}","pad":"`);
        let i = 0;
        const pump = () => {
          while (i < 33) {
            i++;
            if (!res.write(chunk)) return res.once('drain', pump);
          }
          res.end('"}}');
        };
        res.on('error', () => {});
        pump();
        break;
      }
    }
    return true;
  };
  return {
    hook,
    played,
    stop: () => {
      enabled = false;
      for (const r of hanging) r.destroy();
    },
  };
}

/**
 * Answers 429 QuotaExceededError to a seeded `rate` of requests, with these headers (none: no
 * Retry-After at all); the rest go through.
 */
export function rateLimitInjector(rate: number, seed = 42, headers: Record<string, string> = {}) {
  const rand = seeded(seed);
  let refused = 0;
  const hook: RequestHook = (_req, res) => {
    if (rand() >= rate) return false;
    refused++;
    const body = `{"error":{"code":"QuotaExceededError","message":"${FAULT_MARKER}"}}`;
    res.writeHead(429, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      ...headers,
    });
    res.end(body);
    return true;
  };
  return { hook, refused: () => refused };
}
