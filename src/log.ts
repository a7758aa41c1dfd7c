/**
 * Diagnostics go to stderr (stdout is the MCP channel on stdio). Every line passes through
 * redaction, so the API key cannot reach a log even if some message were to carry it.
 */
type LogLevel = 'debug' | 'info' | 'warn' | 'error';
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

/** Placed where a secret was. */
export const REDACTED = '[redacted]';

/**
 * Cuts every secret out of a text, in the forms an upstream, a proxy or an error page may give it back:
 * as is; percent-encoded (wholly or in part, either case, or twice); as JSON, JS or HTML character
 * escapes; hex-encoded; base64 or base64url-encoded on its own or inside a longer encoded string (at
 * each of the three byte alignments), line-wrapped or not; split by whitespace, line breaks or quote
 * concatenation ("abc" + "def"); and any piece of 16 characters or more of it as is (a cut-off key).
 */
export function redact(text: string, secrets: string[]): string {
  const known = clean.seen(text, secrets);
  if (known) return text;
  let out = text;
  for (const secret of secrets) {
    if (!secret) continue;
    out = out.split(secret).join(REDACTED);
    if (secret.length < MIN_ENCODED) continue;
    if (mayHoldForm(out, secret)) out = out.replace(patternOf(secret), REDACTED);
    out = cutPieces(out, secret);
  }
  if (out === text) {
    clean.add(text, secrets);
    return out;
  }
  return out.replace(/(?:\[redacted\]){2,}/g, REDACTED);
}

/**
 * Texts lately found to hold no secret: the same answer asked for again (a cached report, by a team
 * or a pipeline) is not searched again. Only clean texts are kept, up to CLEAN_CHARS in all.
 */
const CLEAN_CHARS = 1_000_000;
const clean = {
  texts: new Set<string>(),
  chars: 0,
  for: '',
  seen(text: string, secrets: string[]): boolean {
    if (text.length > CLEAN_CHARS / 16) return false;
    const key = secrets.join('\0');
    if (key !== this.for) {
      this.texts.clear();
      this.chars = 0;
      this.for = key;
    }
    return this.texts.has(text);
  },
  add(text: string, secrets: string[]): void {
    if (text.length > CLEAN_CHARS / 16 || secrets.join('\0') !== this.for) return;
    while (this.chars + text.length > CLEAN_CHARS) {
      const oldest = this.texts.values().next().value;
      if (oldest === undefined) break;
      this.texts.delete(oldest);
      this.chars -= oldest.length;
    }
    this.texts.add(text);
    this.chars += text.length;
  },
};

/** redact() applied to every string in a JSON-like value (keys included); the value itself is not changed. */
export function redactDeep<T>(value: T, secrets: string[]): T {
  // Every answer passes here: one look at its JSON tells whether any string could hold a secret (a
  // secret in a string is in the JSON too, in the same forms), and the walk is only for those that may.
  const json = JSON.stringify(value);
  if (json === undefined || redact(json, secrets) === json) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redact(v, secrets);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [redact(k, secrets), walk(x)]));
    }
    return v;
  };
  // The walk keeps the value's shape (a string for a string, an array for an array, an object for an
  // object), which the type system cannot follow through a recursion over `unknown`.
  return walk(value) as T;
}

/** Shorter secrets are only cut as they are: their encoded forms would match ordinary text. */
const MIN_ENCODED = 12;
/** Pieces at least this long are cut; a shorter piece says too little to be worth the false alarms. */
const PIECE = 16;
/** Between two characters of a split secret: whitespace, an escaped line break, quotes and "+". */
const GAP = String.raw`(?:\s|\\[nrt]|["'+]){0,12}`;

const PATTERNS = new Map<string, RegExp>();

/** The forms of a secret that patternOf() looks for, each escaped and split in any of the ways above. */
function formsOf(secret: string): string[] {
  return [...new Set([secret, ...base64Forms(secret), Buffer.from(secret).toString('hex')])];
}

/** Gap characters out, case folded: what a text keeps of a form however the form was split in it. */
const squeeze = (s: string) => s.replace(/[\s"'+]/g, '').toUpperCase();

const SQUEEZED = new Map<string, string[]>();

/**
 * False when patternOf(secret) cannot match the text, found without it: the pattern is large (some
 * 20 ms to compile for a 64-character key, which a start would pay at its first log line) and most
 * texts are plain. Every escaped character, and the escaped line break between two, begins with %XX,
 * &# or a backslash, so a text without them can only hold a form as its own characters, in either case,
 * with gap characters between: with the gaps taken out of both and the case folded, the form is then a
 * part of the text.
 */
function mayHoldForm(text: string, secret: string): boolean {
  if (/%[0-9a-f]{2}|&#|\\/i.test(text)) return true;
  let forms = SQUEEZED.get(secret);
  if (!forms) {
    forms = formsOf(secret).map(squeeze);
    if (SQUEEZED.size > 32) SQUEEZED.clear();
    SQUEEZED.set(secret, forms);
  }
  const plain = squeeze(text);
  return forms.some((f) => plain.includes(f));
}

function patternOf(secret: string): RegExp {
  let re = PATTERNS.get(secret);
  if (!re) {
    re = new RegExp(formsOf(secret).map(formPattern).join('|'), 'gi');
    if (PATTERNS.size > 32) PATTERNS.clear();
    PATTERNS.set(secret, re);
  }
  re.lastIndex = 0;
  return re;
}

/**
 * The base64 and base64url characters that depend only on the secret's bytes, with the secret at each
 * byte offset (0, 1, 2) of a longer encoded string: whatever surrounds it, these characters are there.
 */
function base64Forms(secret: string): string[] {
  const bytes = Buffer.from(secret);
  const out: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const b64 = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    const start = Math.ceil((8 * offset) / 6);
    const end = Math.floor((8 * (offset + bytes.length)) / 6);
    const core = b64.slice(start, end);
    if (core.length >= MIN_ENCODED) out.push(core, core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}

/** One form as a pattern: each character as itself or escaped, with a possible split between two. */
function formPattern(form: string): string {
  return Array.from(form).map(charPattern).join(GAP);
}

function charPattern(ch: string): string {
  const bytes = [...Buffer.from(ch)];
  const hex = (b: number) => b.toString(16).padStart(2, '0');
  const code = ch.codePointAt(0) ?? 0;
  const alternatives = [
    ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'),
    bytes.map((b) => `%(?:25)?${hex(b)}`).join(''),
    `&#0*${code};`,
    `&#x0*${code.toString(16)};`,
  ];
  if (code < 0x100) alternatives.push(`\\\\x${hex(code)}`);
  if (code < 0x10000) alternatives.push(`\\\\u${code.toString(16).padStart(4, '0')}`);
  return `(?:${alternatives.join('|')})`;
}

/** Cuts every run of the text that is a piece of the secret at least PIECE characters long. */
function cutPieces(text: string, secret: string): string {
  if (secret.length <= PIECE || text.length < PIECE) return text;
  // Every index in `lower` must be an index in `text`. toLowerCase() keeps them unless some character
  // lowercases to two (only İ does), which the length shows; then ASCII letters alone are folded. It is
  // about 100 times faster than a replacement per capital. (It also folds non-ASCII capitals, which can
  // only cut more: a lookalike of a piece of the key.)
  const fold = (s: string) => {
    const lower = s.toLowerCase();
    return lower.length === s.length ? lower : s.replace(/[A-Z]/g, (c) => c.toLowerCase());
  };
  const lower = fold(text);
  const key = fold(secret);
  const spans: Array<[number, number]> = [];
  for (let i = 0; i + PIECE <= key.length; i++) {
    const piece = key.slice(i, i + PIECE);
    for (let at = lower.indexOf(piece); at !== -1; at = lower.indexOf(piece, at + 1)) {
      spans.push([at, at + PIECE]);
    }
  }
  spans.sort((a, b) => a[0] - b[0]);
  const first = spans[0];
  if (first === undefined) return text;
  let out = '';
  let pos = 0;
  let [from, to] = first;
  for (const [a, b] of spans.slice(1)) {
    if (a <= to) to = Math.max(to, b);
    else {
      out += text.slice(pos, from) + REDACTED;
      pos = to;
      [from, to] = [a, b];
    }
  }
  return out + text.slice(pos, from) + REDACTED + text.slice(to);
}
