/**
 * The published descriptions of the server (the MCP registry's server.json, the Claude Desktop bundle's
 * manifest.json, the README's configuration table) agree with package.json and with the code.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ENV_OPTIONS, OPTIONS } from '../src/config.js';
import { READ_TOOLS, SUBMISSION_TOOLS } from '../src/server/create-server.js';

const read = (f: string) => JSON.parse(readFileSync(new URL(`../${f}`, import.meta.url), 'utf8'));
const pkg = read('package.json');
const server = read('server.json');
const manifest = read('manifest.json');

/**
 * Our own schema of server.json, written from the registry's documentation (schema 2025-12-11): the
 * published JSON Schema is not vendored here. Strict objects, so a misspelt field fails.
 */
const input = {
  description: z.string().optional(),
  isRequired: z.boolean().optional(),
  isSecret: z.boolean().optional(),
  format: z.enum(['string', 'number', 'boolean', 'filepath']).optional(),
  default: z.string().optional(),
  value: z.string().optional(),
  placeholder: z.string().optional(),
  choices: z.array(z.string()).optional(),
};
const notARange = (v: string) => !/^[\^~><=]|\.x$|\*|^latest$/.test(v);
const ServerJson = z.strictObject({
  $schema: z.literal('https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json'),
  name: z
    .string()
    .min(3)
    .max(200)
    .regex(/^[a-zA-Z0-9.-]+\/[a-zA-Z0-9._-]+$/),
  title: z.string().min(1).max(100).optional(),
  description: z.string().min(1).max(100),
  version: z.string().max(255).refine(notARange, 'a specific version, not a range'),
  repository: z.strictObject({ url: z.url(), source: z.string(), id: z.string().optional() }).optional(),
  websiteUrl: z.url().optional(),
  packages: z
    .array(
      z.strictObject({
        registryType: z.string(),
        registryBaseUrl: z.url().optional(),
        identifier: z.string(),
        version: z.string().min(1).refine(notARange, 'a specific version, not a range'),
        runtimeHint: z.string().optional(),
        transport: z.strictObject({ type: z.literal('stdio') }),
        environmentVariables: z.array(
          z.strictObject({ name: z.string().regex(/^[A-Z][A-Z0-9_]*$/), ...input }),
        ),
      }),
    )
    .min(1),
});

describe('server.json (MCP registry)', () => {
  it('is valid against the documented schema', () => {
    const r = ServerJson.safeParse(server);
    expect(r.success ? [] : r.error.issues).toEqual([]);
  });

  it('agrees with package.json', () => {
    expect(server.name).toBe(pkg.mcpName);
    expect(server.name).toMatch(/^io\.github\.[^/]+\/vtbrief$/);
    expect(server.version).toBe(pkg.version);
    const [npm] = server.packages;
    expect(npm).toMatchObject({
      registryType: 'npm',
      identifier: pkg.name,
      version: pkg.version,
      runtimeHint: 'npx',
    });
    expect(npm.transport).toEqual({ type: 'stdio' });
  });

  it('lists the configuration table’s variables, the key as required and secret', () => {
    const vars: Array<{ name: string; isRequired: boolean; isSecret: boolean }> =
      server.packages[0].environmentVariables;
    const stdioNames = ENV_OPTIONS.map((o) => o.env[0]).filter((n) => !n?.startsWith('VT_MCP_'));
    expect(vars.map((v) => v.name)).toEqual(stdioNames);
    const key = vars.find((v) => v.name === 'VIRUSTOTAL_API_KEY');
    expect(key).toMatchObject({ isRequired: true, isSecret: true });
    for (const v of vars.filter((x) => x.name !== 'VIRUSTOTAL_API_KEY')) {
      expect(v.isRequired, v.name).toBe(false);
      expect(v.isSecret, v.name).toBe(false);
    }
  });
});

describe('manifest.json (Claude Desktop bundle)', () => {
  it('passes the bundle tool’s own validation', () => {
    const bin = new URL('../node_modules/@anthropic-ai/mcpb/dist/cli/cli.js', import.meta.url).pathname;
    const r = spawnSync(process.execPath, [bin, 'validate', 'manifest.json'], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toMatch(/validation passes/i);
    expect(r.status).toBe(0);
  });

  it('passes the key as a sensitive setting, offers the limits, and lists every tool', () => {
    expect(manifest.version).toBe(pkg.version);
    expect(manifest.server).toMatchObject({ type: 'node', entry_point: 'dist/index.js' });
    // The bundle host substitutes ${user_config.X} with the user's setting.
    const setting = (k: string) => `\${user_config.${k}}`;
    expect(manifest.server.mcp_config.env).toEqual({
      VIRUSTOTAL_API_KEY: setting('api_key'),
      VT_RATE_LIMIT: setting('rate_limit'),
      VT_DAILY_QUOTA: setting('daily_quota'),
    });
    expect(manifest.user_config.api_key).toMatchObject({ sensitive: true, required: true });
    expect(manifest.user_config.rate_limit.required).toBe(false);
    expect(manifest.compatibility.runtimes.node).toBe('>=22.13.0');
    expect(manifest.tools.map((t: { name: string }) => t.name)).toEqual(
      [...READ_TOOLS, ...SUBMISSION_TOOLS].map((t) => t.name),
    );
    // The settings' defaults are values the server accepts.
    expect(() =>
      OPTIONS.rateLimit.parse(manifest.user_config.rate_limit.default, { demo: false, env: {} }),
    ).not.toThrow();
    expect(() =>
      OPTIONS.dailyQuota.parse(manifest.user_config.daily_quota.default, { demo: false, env: {} }),
    ).not.toThrow();
  });
});

describe('generated files', () => {
  it('server.json, manifest.json and the README are what scripts/generate.mjs makes from the code', () => {
    // Throws (exit 1, naming the stale files) when any of them was edited by hand or the code moved on.
    execFileSync(process.execPath, ['scripts/generate.mjs', '--check'], { encoding: 'utf8' });
  });

  it('nothing but the rename note names the old package', () => {
    const files = execFileSync('git', ['grep', '-l', '-I', 'vt-mcp', '--', '.', ':!package-lock.json'], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n');
    expect(files.sort()).toEqual(['README.md', 'test/publishing.test.ts']);
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const paragraphs = readme.split(/\n\s*\n/).filter((p) => p.includes('vt-mcp'));
    expect(paragraphs).toHaveLength(1);
    expect(paragraphs[0]).toMatch(/not VirusTotal's official MCP\s+server/);
    expect(paragraphs[0]).toMatch(/renamed/);
  });
});
