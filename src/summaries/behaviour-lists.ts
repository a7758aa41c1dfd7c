/** How the behaviour lists are made distinct and ordered: what is the same, what tells, what is noise. */
import { capCodePoints } from '../util/sanitize.js';
import { cap, clean } from './common.js';

export function sevName(s: unknown): string | undefined {
  const c = clean(s, 30)
    ?.toLowerCase()
    .replace(/^impact_severity_/, '');
  return c && c !== 'unknown' ? c : undefined;
}

/** Distinct values, first occurrence kept. */
export function distinct(values: string[]): string[] {
  return [...new Set(values)];
}

/** Distinct by a key, first occurrence kept. */
export function distinctBy<T>(items: T[], key: (x: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((x) => {
    const k = key(x);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export function capped<T>(items: T[], n: number): { list: T[]; more: number | undefined } {
  const c = cap(items, n);
  return { list: c.items, more: c.more || undefined };
}

/** A user's folder as sandboxes write it: by name, as a placeholder ("<USER>", cleaned to "< USER>"), or %HOME%. */
const USER_DIR = /c:\\users\\(?:< ?user>|[^\\\s]+)|%home%/g;

/**
 * A process or command line reduced to what makes it the same as another: sandboxes write one command
 * with different quoting, case, environment variables or user folders, and a process id in front.
 */
export function shape(s: string): string {
  return s
    .toLowerCase()
    .replace(/^\d+ - /, '')
    .replace(/["'″]/g, '')
    .replace(/\\{2,}/g, '\\')
    .replace(/%%(\w+)%%/g, '%$1%')
    .replace(USER_DIR, '%userprofile%')
    .replace(/%userprofile%\\appdata\\local\\temp|%tmp%/g, '%temp%')
    .replace(/%userprofile%\\appdata\\roaming/g, '%appdata%')
    .replace(/c:\\windows|%systemroot%/g, '%windir%')
    .replace(/%comspec%|%windir%\\system32\\cmd\.exe|\bcmd\.exe\b/g, 'cmd')
    .replace(
      /%windir%\\system32\\windowspowershell\\v1\.0\\powershell\.exe|\bpwsh\.exe|\bpowershell\.exe/g,
      'powershell',
    )
    .replace(/\s+/g, ' ')
    .trim();
}

/** Distinct by shape, first occurrence kept, leaving out shapes already `seen` (and adding the rest). */
export function distinctShapes(values: string[], seen = new Set<string>()): string[] {
  return values.filter((v) => {
    const k = shape(v);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Stable sort by a rank, lower first. */
export function ranked<T>(items: T[], rank: (x: T) => number): T[] {
  return items
    .map((x, i) => ({ x, i, r: rank(x) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((e) => e.x);
}

const NETWORK_IN_COMMAND =
  /\b(?:https?|ftp):\/\/|(?<=^|\s)--?(?:url|server|host|pool|proxy)\b|\b\d{1,3}(?:\.\d{1,3}){3}\b|\b[a-z0-9-]+(?:\.[a-z0-9-]+)+:\d{2,5}\b/i;
const TOOL_IN_COMMAND =
  /-enc\b|encodedcommand|frombase64|downloadstring|downloadfile|invoke-webrequest|\biex\b|certutil|bitsadmin|mshta|regsvr32|rundll32|wmic|vssadmin|bcdedit|wevtutil|schtasks|\breg(?:\.exe)? (?:add|delete)|-mppreference|netsh|\bsc(?:\.exe)? (?:create|config)|icacls|attrib|\bdel\b/i;

/**
 * A command line within `max` code points. When it is longer and names a host, URL or pool beyond the
 * cut, its start and the part from that name on are kept: that is what a long miner or loader command
 * line is read for.
 */
export function excerpt(c: string, max: number): string {
  if (c.length <= max) return c;
  const m = NETWORK_IN_COMMAND.exec(c);
  const head = Math.floor(max / 5);
  // The whole word the name is in ("--url=pool.example:3333"), so that it is not cut either.
  const end = m ? m.index + (/^\S*/.exec(c.slice(m.index))?.[0].length ?? 0) : 0;
  if (!m || end < max || m.index <= head) return capCodePoints(c, max);
  return `${capCodePoints(c, head)} ${capCodePoints(c.slice(m.index), max - head - 1)}`;
}

/** Command lines that reach the network, or run a tool attackers use, first; longer before shorter. */
export function commandRank(c: string): number {
  return (NETWORK_IN_COMMAND.test(c) ? 0 : 4) + (TOOL_IN_COMMAND.test(c) ? 0 : 2) + (c.length > 100 ? 0 : 1);
}

/** How much of a process or command line is compared with others (and the most a detailed answer shows). */
export const PROCESS_CHARS = 400;

/** The sample started as itself, as sandboxes write it: "%SAMPLEPATH%", "″%SAMPLEPATH%\\x.exe″". */
export const SAMPLE_ITSELF = /^″?%samplepath%(?:\\[^\\″]*)?″?$/i;

/** Noise every Windows sandbox run leaves: console hosts, COM activations. */
export const NOISY_PROCESS = /%conhost%|\\conhost\.exe|-embedding\b/i;

const EXECUTABLE_FILE =
  /\.(?:exe|dll|sys|scr|com|cpl|ocx|drv|ps1|psm1|bat|cmd|vbs|vbe|js|jse|wsf|hta|jar|msi|lnk|so|sh|elf|apk|dex)$/i;
/** What every PowerShell or .NET run drops, and Internet zone markers: last. */
const NOISY_FILE = /__PSScriptPolicyTest_|\\UsageLogs\\|:Zone\.Identifier$|\.(?:log|tmp|etl)$|\\INetCache\\/i;

export function droppedRank(f: { path?: string; sha256?: string; type?: string }): number {
  const p = f.path ?? '';
  const kind = NOISY_FILE.test(p)
    ? 2
    : EXECUTABLE_FILE.test(p) || /^(?:PE|ELF|MACH|DLL|DEX|APK|JAR|MSI)/i.test(f.type ?? '')
      ? 0
      : 1;
  // Files with a hash first within each kind: those can be looked up.
  return kind * 2 + (f.sha256 ? 0 : 1);
}

/** Keys that start things, hide things or weaken defences; then the rest; then what every run writes. */
const TELLING_KEY =
  /\\Services\\|\\Run(?:Once)?(?:Ex)?\\|\\Run(?:Once)?$|\\Winlogon\\|\\Image File Execution Options\\|\\Policies\\|\\Windows Defender\\|\\Exclusions\\|\\Schedule\\TaskCache\\|\\AppInit_DLLs|\\Active Setup\\|\\Environment\\|\\Shell(?:Service)?Objects?\\|\\Explorer\\Shell Folders\\|\\Lsa\\|\\SafeBoot\\|\\Firewall/i;
const NOISY_KEY =
  /\\Performance\\|\\SystemCertificates\\|\\Tracing\\|^\\\\REGISTRY\\A\\|\\MuiCache\\|\\Time Zones\\|\\ZoneMap\\|\\WBEM\\|\\Internet Settings\\|\\Cryptography\\RNG|\\Notifications\\Data/i;

/** Values that name what is started: a service's image, a Run entry, a debugger, a shell. */
const LAUNCH_VALUE =
  /\\(?:ImagePath|ServiceDll|Debugger|Userinit|Shell|AppInit_DLLs)$|\\Run(?:Once)?(?:Ex)?\\[^\\]+$/i;

function registryRank(r: { key: string }): number {
  if (NOISY_KEY.test(r.key)) return 3;
  return LAUNCH_VALUE.test(r.key) ? 0 : TELLING_KEY.test(r.key) ? 1 : 2;
}

/** Ranked, and one key per parent before a second of any: a task or service writes many values at once. */
export function registryOrder<T extends { key: string }>(items: T[]): T[] {
  const parent = (k: string) => k.slice(0, Math.max(0, k.lastIndexOf('\\'))).toLowerCase();
  const seen = new Map<string, number>();
  return ranked(
    ranked(items, registryRank).map((r) => {
      const p = parent(r.key);
      const n = seen.get(p) ?? 0;
      seen.set(p, n + 1);
      return { r, n };
    }),
    (x) => x.n * 10 + registryRank(x.r),
  ).map((x) => x.r);
}

export const SESSION_NAMESPACE = /^\\Sessions\\\d+\\BaseNamedObjects\\/i;
