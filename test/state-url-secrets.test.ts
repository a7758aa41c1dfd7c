/**
 * A Redis password in VT_STATE is printed nowhere: not in the error a VT_STATE that does not parse
 * (or parses with part of the password as its host) gives, not in the start line, the store's
 * location (vt_quota's) or its log lines; and the logger cuts it out of any line, as written and
 * decoded. Passwords with "/", "@", "#", "?", "%" (also as invalid percent-encoding, "%zz") and
 * spaces: some make the URL parser throw, some make it read a wrong host, some parse as meant.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import {
  openStateStore,
  parseStateSpec,
  StateSpecError,
  stateSecrets,
  stateStartLine,
} from '../src/vt/state/open.js';
import { closedPort, REDIS_URL, randomApiKey, tellRedisSkipped } from './helpers/state-backends.js';

tellRedisSkipped();

/**
 * Each password has a word before its odd character and one after, so that neither half may show:
 * a mask that stops at the odd character, or a host read from the first half, is caught. "4242"
 * before it makes a URL with a user parse with host = the user, port = 4242.
 */
const ODD = ['/', '@', '#', '?', '%', '%zz', ' ', '%2F', '/@#?% x'];
const HALVES: Array<[string, string]> = [
  ['Zebra', 'Quokka'],
  ['4242', 'Okapi'],
];
/** Those that need no encoding: the parser takes the last "@" as the end of the password, and encodes spaces. */
const READ_AS_WRITTEN = new Set(['@', '%2F', ' ']);
const passwords = ODD.flatMap((odd) =>
  HALVES.map(([a, b]) => ({
    password: `${a}${odd}${b}`,
    halves: [a, b],
    accepted: READ_AS_WRITTEN.has(odd),
  })),
);

function decoded(pw: string): string | undefined {
  try {
    return decodeURIComponent(pw);
  } catch {
    return undefined;
  }
}

/** Why a text shows the password (raw, decoded, or either half), or undefined. */
function shows(text: string, pw: string, halves: string[]): string | undefined {
  if (text.includes(pw)) return 'the password as written';
  const d = decoded(pw);
  if (d !== undefined && text.includes(d)) return 'the decoded password';
  if (text.includes(new URL(`redis://:${encodeURIComponent(pw)}@h`).password)) return 'the encoded password';
  for (const h of halves) if (text.includes(h)) return `"${h}"`;
  return undefined;
}

/** URLs carrying the password: no user, a user, TLS; host and port are `host`. */
const urlsWith = (pw: string, host: string) => [
  `redis://:${pw}@${host}/2`,
  `redis://alice:${pw}@${host}/2`,
  `rediss://alice:${pw}@${host}`,
];

describe('VT_STATE errors never echo a Redis password', () => {
  const ctx = { env: {}, platform: 'linux' as const, homedir: '/nonexistent-home' };

  it.each(passwords)('password $password', ({ password, halves, accepted }) => {
    for (const spec of urlsWith(password, 'cache.example:6380')) {
      let parsed: unknown;
      let message = '';
      try {
        parsed = parseStateSpec(spec, ctx);
      } catch (err) {
        expect(err, spec).toBeInstanceOf(StateSpecError);
        message = (err as Error).message;
      }
      expect(parsed !== undefined, `${spec} accepted`).toBe(accepted);
      if (parsed === undefined) {
        expect(shows(message, password, halves), `${spec} → ${message}`).toBeUndefined();
        expect(message).toMatch(/^VT_STATE must be "sqlite"/);
        expect(message).not.toContain('\n');
        // What the server prints at start: loadConfig's ConfigError carries the same message.
        let configMessage = '';
        try {
          loadConfig({ VT_STATE: spec }, []);
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          configMessage = (err as Error).message;
        }
        expect(configMessage).toBe(message);
      } else {
        // Accepted: then it was read as written (the host is the one after the last "@").
        expect(new URL(spec).hostname, spec).toBe('cache.example');
      }
    }
  });

  it('says what to do: percent-encode the odd characters', () => {
    expect(() => parseStateSpec('redis://alice:Zebra/Quokka@cache.example:6380/2', ctx)).toThrow(
      'VT_STATE must be "sqlite" (the default: a file in the user cache directory), "sqlite:/absolute/path/file.db", ' +
        '"redis://host:port/db", "rediss://host:port/db" or "memory"; "redis://***@cache.example:6380/2" is not a valid URL: ' +
        'percent-encode "/", "?", "#", "@", "%" and spaces in the user and password (e.g. "/" as "%2F", "%" as "%25").',
    );
    expect(() => parseStateSpec('redis://alice:4242#Okapi@cache.example:6380/2', ctx)).toThrow(
      /; "redis:\/\/\*\*\*@cache\.example:6380\/2" would be read with part of its user or password as the host: percent-encode /,
    );
    expect(() => parseStateSpec('redis://alice:Zebra%zzQuokka@cache.example:6380/2', ctx)).toThrow(
      /; the user or password of "redis:\/\/\*\*\*@cache\.example:6380\/2" is not valid percent-encoding: percent-encode /,
    );
    // Not a Redis URL at all, with something like credentials in it: masked too.
    let msg = '';
    try {
      parseStateSpec('redis:alice:Zebra/Quokka@cache.example', ctx);
    } catch (err) {
      msg = (err as Error).message;
    }
    expect(msg).toMatch(/; got "redis:\*\*\*@cache\.example"\.$/);
  });
});

describe('the start line, the store and its log lines never show it either', () => {
  it('Redis not reachable: start line, location and log lines, through the logger', async () => {
    let port = await closedPort();
    // The port must not hold a half of a password (the test would see a leak that is not one).
    while (HALVES.flat().some((h) => String(port).includes(h))) port = await closedPort();
    for (const { password, halves } of passwords) {
      for (const spec of urlsWith(password, `127.0.0.1:${port}`)) {
        const opened = await openStateStore(spec, {
          apiKey: randomApiKey(),
          env: {},
          cacheMaxBytes: 1e6,
          resilient: { timeoutMs: 200, probeEveryMs: 60_000 },
          redis: { timeoutMs: 200, connectWaitMs: 200 },
        }).catch((err: unknown) => err);
        if (opened instanceof StateSpecError) {
          expect(shows(opened.message, password, halves), opened.message).toBeUndefined();
          continue;
        }
        if (opened instanceof Error) throw opened;
        const o = opened as Awaited<ReturnType<typeof openStateStore>>;
        const lines: string[] = [];
        const log = createLogger({ secrets: stateSecrets(spec), write: (l) => lines.push(l) });
        try {
          log.warn(stateStartLine(o));
          const h = o.store.health();
          for (const text of [stateStartLine(o), h.location, h.reason ?? '', o.fellBack ?? '', ...lines]) {
            expect(shows(text, password, halves), `${spec} → ${text}`).toBeUndefined();
          }
          expect(h.location).toMatch(new RegExp(`^rediss?://127\\.0\\.0\\.1:${port}/[02]$`));
        } finally {
          await o.store.close();
        }
      }
    }
  });

  it.skipIf(!REDIS_URL)(
    'a real Redis that refuses the user and password: the start line names neither',
    async () => {
      const u = new URL(REDIS_URL as string);
      for (const password of ['Zebra/Quokka', 'Zebra@Quokka', 'Zebra Quokka', 'Zebra%25Quokka']) {
        const spec = `redis://nobody-here:${password.replace('/', '%2F')}@${u.host}${u.pathname}`;
        const lines: string[] = [];
        const log = createLogger({ secrets: stateSecrets(spec), write: (l) => lines.push(l) });
        const opened = await openStateStore(spec, {
          apiKey: randomApiKey(),
          env: {},
          cacheMaxBytes: 1e6,
          log: (m) => log.warn(m),
          resilient: { timeoutMs: 500, probeEveryMs: 60_000 },
          redis: { timeoutMs: 500, connectWaitMs: 1000 },
        });
        try {
          log.warn(stateStartLine(opened));
          for (const text of [stateStartLine(opened), ...lines]) {
            expect(shows(text, password, ['Zebra', 'Quokka']), text).toBeUndefined();
          }
        } finally {
          await opened.store.close();
        }
      }
    },
  );
});

describe('the logger knows the Redis password (index.ts gives it stateSecrets(VT_STATE))', () => {
  it.each(passwords)(
    'password $password: cut out as written, as the URL parser writes it, decoded',
    ({ password }) => {
      for (const spec of urlsWith(password, 'cache.example:6380')) {
        const secrets = stateSecrets(spec);
        expect(secrets).toContain(password);
        const d = decoded(password);
        if (d !== undefined) expect(secrets).toContain(d);
        const lines: string[] = [];
        const log = createLogger({ secrets, write: (l) => lines.push(l) });
        const forms = [password, ...(d !== undefined ? [d] : [])];
        try {
          // Empty when the parser took part of the password for the host.
          const parsed = new URL(spec).password;
          if (parsed) forms.push(parsed);
        } catch {
          // A spec the parser refuses has no parsed form.
        }
        for (const form of forms) log.error(`client said: AUTH failed for "${form}" (retrying)`);
        for (const line of lines) {
          for (const form of forms) expect(line, line).not.toContain(form);
          expect(line).toContain('[redacted]');
        }
      }
    },
  );

  it('nothing for a spec without a password', () => {
    expect(stateSecrets(undefined)).toEqual([]);
    expect(stateSecrets('sqlite:/tmp/x@y.db')).toEqual([]);
    expect(stateSecrets('redis://cache.example:6380/2')).toEqual([]);
    expect(stateSecrets('redis://alice@cache.example:6380/2')).toEqual([]);
    expect(stateSecrets('REDISS://:Zebra%2FQuokka@h')).toEqual(['Zebra%2FQuokka', 'Zebra/Quokka']);
  });
});
