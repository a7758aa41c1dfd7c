import { describe, expect, it } from 'vitest';
import { ConfigError, configTableMarkdown, defaultConcurrency, helpText, loadConfig } from '../src/config.js';

const load = (env: NodeJS.ProcessEnv, argv: string[] = []) => loadConfig(env, argv);

describe('configuration edge cases', () => {
  it('an empty VIRUSTOTAL_API_KEY does not hide VT_API_KEY', () => {
    expect(load({ VIRUSTOTAL_API_KEY: '', VT_API_KEY: 'k2' }).apiKey).toBe('k2');
    expect(load({ VIRUSTOTAL_API_KEY: '  ', VT_API_KEY: 'k2' }).apiKey).toBe('k2');
    expect(load({ VIRUSTOTAL_API_KEY: 'k1', VT_API_KEY: 'k2' }).apiKey).toBe('k1');
    expect(load({ VIRUSTOTAL_API_KEY: '' }).apiKey).toBeUndefined();
  });

  it('VT_DAILY_QUOTA=0 and VT_RATE_LIMIT=0 are refused, not read as "no limit"', () => {
    expect(() => load({ VT_DAILY_QUOTA: '0' })).toThrow(ConfigError);
    expect(() => load({ VT_DAILY_QUOTA: '0' })).toThrow(/"off"/);
    expect(() => load({ VT_RATE_LIMIT: '0' })).toThrow(/"off"/);
    expect(() => load({ VT_RATE_LIMIT: '0/60s' })).toThrow(ConfigError);
    expect(load({ VT_DAILY_QUOTA: 'off' }).dailyQuota).toBeUndefined();
    expect(load({ VT_RATE_LIMIT: 'off' }).rateLimit).toBeUndefined();
    expect(load({}).dailyQuota).toBe(500);
  });

  it('--host and --port without --transport http are an error, not silently ignored', () => {
    expect(() => load({}, ['--port', '3001'])).toThrow(/--port applies only to --transport http/);
    expect(() => load({}, ['--host', '0.0.0.0'])).toThrow(/--host applies only/);
    const c = load({}, ['--transport', 'http', '--port', '3001']);
    expect(c.http.port).toBe(3001);
    expect(c.http.host).toBe('127.0.0.1');
  });

  it('VT_ENABLE_SUBMISSIONS takes true or false and refuses anything else', () => {
    expect(load({ VT_ENABLE_SUBMISSIONS: 'true' }).enableSubmissions).toBe(true);
    expect(load({ VT_ENABLE_SUBMISSIONS: 'no' }).enableSubmissions).toBe(false);
    expect(load({}).enableSubmissions).toBe(false);
    expect(() => load({ VT_ENABLE_SUBMISSIONS: 'ture' })).toThrow(ConfigError);
  });

  it('concurrency defaults fit the key profile', () => {
    expect(load({}).maxConcurrency).toBe(4);
    expect(load({ VT_RATE_LIMIT: 'off' }).maxConcurrency).toBe(16);
    expect(load({ VT_RATE_LIMIT: '1000/60s' }).maxConcurrency).toBe(16);
    expect(load({ VT_RATE_LIMIT: '8/60s' }).maxConcurrency).toBe(8);
    expect(load({}, ['--demo']).maxConcurrency).toBe(16);
    expect(load({ VT_RATE_LIMIT: 'off', VT_MAX_CONCURRENCY: '2' }).maxConcurrency).toBe(2);
    expect(defaultConcurrency({ requests: 1, seconds: 1 })).toBe(4);
  });

  it('help and the README table come from one table and name every variable', () => {
    const help = helpText('0.0.0');
    const table = configTableMarkdown();
    for (const name of ['VIRUSTOTAL_API_KEY', 'VT_API_KEY', 'VT_RATE_LIMIT', 'VT_MCP_CLIENT_RATE']) {
      expect(help).toContain(name);
      expect(table).toContain(`\`${name}\``);
    }
    expect(help).toContain('--port');
  });
});
