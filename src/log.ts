/**
 * Diagnostics go to stderr (stdout is the MCP channel on stdio). Every line passes through
 * redaction, so the API key cannot reach a log even if some message were to carry it.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export function createLogger(opts: {
  secrets?: Array<string | undefined>;
  level?: LogLevel;
  write?: (line: string) => void;
}): Logger {
  const secrets = (opts.secrets ?? []).filter((s): s is string => !!s && s.length >= 4);
  const min = RANK[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  const emit = (level: LogLevel, msg: string) => {
    if (RANK[level] < min) return;
    write(`${new Date().toISOString()} vtbrief ${level}: ${redact(msg, secrets)}\n`);
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
  };
}

export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('[redacted]');
  return out;
}
