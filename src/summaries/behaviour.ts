/**
 * Sandbox behaviour: the merged behaviour summary of a file (often ~200 KB) and its MITRE ATT&CK
 * trees, reduced to what an analyst acts on. Every list is capped and what was cut is counted; the
 * concise answer keeps the first few of each list, the detailed one more of each and the sandboxes'
 * own words for each technique.
 * Everything here was produced by running the sample, so paths, command lines, registry values and
 * hostnames are attacker-controlled text: cleaned, capped, and labelled as such in the text. What the
 * text cannot hold is in VirusTotal's own sandbox reports, and the last line links to them.
 * Technique and tactic names are MITRE's (attack.ts, offline): VirusTotal's names are used only for an
 * id MITRE does not have, and then quoted like any other untrusted text.
 */
import { z } from 'zod';
import { capCodePoints } from '../util/sanitize.js';
import { TECHNIQUE_ID, tacticOf, techniqueLabel, techniqueOf } from './attack.js';
import { TACTICS } from './attack-table.js';
import {
  arr,
  cap,
  clean,
  compact,
  type Detail,
  guiLink,
  type Json,
  num,
  obj,
  plural,
  severityRank,
  strings,
} from './common.js';
import { code, joinMore, q, TextBuilder } from './text.js';

const str = z.string();
const strs = z.array(str).optional();
const more = z.number().optional();

const techniqueSchema = z.object({
  id: str,
  /** MITRE's name when ATT&CK v18.1 has the id; otherwise the sandbox's. */
  name: str.optional(),
  severity: str.optional(),
  /** Ids of the tactics it serves: the sandboxes' mapping, else MITRE's. */
  tactics: strs,
  /** The most severe sandbox observation behind it (the sandbox's words; detailed answers only). */
  seen: str.optional(),
});
type Technique = z.infer<typeof techniqueSchema>;

export const behaviourSummarySchema = z.object({
  /** The file's SHA-256, when the hash asked with was one (neither response names the file). */
  id: str.optional(),
  /** The hash the behaviour was asked for. */
  input: str,
  verdicts: strs,
  verdict_labels: strs,
  verdict_confidence: z.number().optional(),
  tags: strs,
  tactics: z.array(z.object({ id: str, name: str.optional() })).optional(),
  techniques: z.array(techniqueSchema).optional(),
  techniques_more: more,
  /** "available", "empty" (no mapping) or "unavailable" (the trees could not be fetched). */
  attack_tree: z.enum(['available', 'empty', 'unavailable']),
  dns: z.array(z.object({ host: str, ips: strs })).optional(),
  dns_more: more,
  ip_traffic: strs,
  ip_traffic_more: more,
  http: strs,
  http_more: more,
  /** JA3 fingerprints with the server names they were sent to. */
  tls: strs,
  tls_more: more,
  processes_created: strs,
  processes_created_more: more,
  processes_injected: strs,
  processes_injected_more: more,
  /** Terminated processes that are not among those created or the command lines. */
  processes_terminated: strs,
  processes_terminated_more: more,
  /** Command lines not shown as processes created, the most telling first. */
  command_lines: strs,
  command_lines_more: more,
  files_dropped: z
    .array(z.object({ path: str.optional(), sha256: str.optional(), type: str.optional() }))
    .optional(),
  files_dropped_more: more,
  registry_set: z.array(z.object({ key: str, value: str.optional() })).optional(),
  registry_set_more: more,
  mutexes: strs,
  mutexes_more: more,
  sigma: z.array(z.object({ title: str, level: str.optional() })).optional(),
  sigma_more: more,
  ids: z.array(z.object({ message: str, severity: str.optional() })).optional(),
  ids_more: more,
  signatures: z.array(z.object({ name: str, format: str.optional() })).optional(),
  signatures_more: more,
  /** Fields recorded but not shown, with their sizes. */
  not_shown: z.record(str, z.number()).optional(),
  /** Which answer this is: "concise" keeps the first items of each list, "detailed" more. */
  detail: z.enum(['concise', 'detailed']).optional(),
});
type BehaviourSummary = z.infer<typeof behaviourSummarySchema>;

/**
 * Items kept per list, and the longest command line. The concise answer fits about 4,000 characters
 * for a busy sample with room for every section; the detailed one trades size for more of each.
 */
type Caps = Record<
  | 'techniques'
  | 'dns'
  | 'ips'
  | 'ip'
  | 'http'
  | 'tls'
  | 'processes'
  | 'injected'
  | 'terminated'
  | 'commands'
  | 'commandChars'
  | 'dropped'
  | 'registry'
  | 'mutexes'
  | 'rules',
  number
>;

const CAPS: Record<Detail, Caps> = {
  concise: {
    techniques: 20,
    dns: 10,
    ips: 2,
    ip: 10,
    http: 4,
    tls: 3,
    processes: 8,
    injected: 5,
    terminated: 2,
    commands: 3,
    commandChars: 180,
    dropped: 4,
    registry: 2,
    mutexes: 8,
    rules: 6,
  },
  detailed: {
    techniques: 40,
    dns: 25,
    ips: 6,
    ip: 25,
    http: 15,
    tls: 10,
    processes: 25,
    injected: 10,
    terminated: 12,
    commands: 12,
    commandChars: 400,
    dropped: 15,
    registry: 12,
    mutexes: 20,
    rules: 15,
  },
};

function sevName(s: unknown): string | undefined {
  const c = clean(s, 30)
    ?.toLowerCase()
    .replace(/^impact_severity_/, '');
  return c && c !== 'unknown' ? c : undefined;
}

/** Distinct values, first occurrence kept. */
function distinct(values: string[]): string[] {
  return [...new Set(values)];
}

/** Distinct by a key, first occurrence kept. */
function distinctBy<T>(items: T[], key: (x: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((x) => {
    const k = key(x);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function capped<T>(items: T[], n: number): { list: T[]; more: number | undefined } {
  const c = cap(items, n);
  return { list: c.items, more: c.more || undefined };
}

/** A user's folder as sandboxes write it: by name, as a placeholder ("<USER>", cleaned to "< USER>"), or %HOME%. */
const USER_DIR = /c:\\users\\(?:< ?user>|[^\\\s]+)|%home%/g;

/**
 * A process or command line reduced to what makes it the same as another: sandboxes write one command
 * with different quoting, case, environment variables or user folders, and a process id in front.
 */
function shape(s: string): string {
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
function distinctShapes(values: string[], seen = new Set<string>()): string[] {
  return values.filter((v) => {
    const k = shape(v);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Stable sort by a rank, lower first. */
function ranked<T>(items: T[], rank: (x: T) => number): T[] {
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
function excerpt(c: string, max: number): string {
  if (c.length <= max) return c;
  const m = NETWORK_IN_COMMAND.exec(c);
  const head = Math.floor(max / 5);
  // The whole word the name is in ("--url=pool.example:3333"), so that it is not cut either.
  const end = m ? m.index + (/^\S*/.exec(c.slice(m.index))?.[0].length ?? 0) : 0;
  if (!m || end < max || m.index <= head) return capCodePoints(c, max);
  return `${capCodePoints(c, head)} ${capCodePoints(c.slice(m.index), max - head - 1)}`;
}

/** Command lines that reach the network, or run a tool attackers use, first; longer before shorter. */
function commandRank(c: string): number {
  return (NETWORK_IN_COMMAND.test(c) ? 0 : 4) + (TOOL_IN_COMMAND.test(c) ? 0 : 2) + (c.length > 100 ? 0 : 1);
}

/** How much of a process or command line is compared with others (and the most a detailed answer shows). */
const PROCESS_CHARS = 400;

/** The sample started as itself, as sandboxes write it: "%SAMPLEPATH%", "″%SAMPLEPATH%\\x.exe″". */
const SAMPLE_ITSELF = /^″?%samplepath%(?:\\[^\\″]*)?″?$/i;

/** Noise every Windows sandbox run leaves: console hosts, COM activations. */
const NOISY_PROCESS = /%conhost%|\\conhost\.exe|-embedding\b/i;

const EXECUTABLE_FILE =
  /\.(?:exe|dll|sys|scr|com|cpl|ocx|drv|ps1|psm1|bat|cmd|vbs|vbe|js|jse|wsf|hta|jar|msi|lnk|so|sh|elf|apk|dex)$/i;
/** What every PowerShell or .NET run drops, and Internet zone markers: last. */
const NOISY_FILE = /__PSScriptPolicyTest_|\\UsageLogs\\|:Zone\.Identifier$|\.(?:log|tmp|etl)$|\\INetCache\\/i;

function droppedRank(f: { path?: string; sha256?: string; type?: string }): number {
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
function registryOrder<T extends { key: string }>(items: T[]): T[] {
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

const SESSION_NAMESPACE = /^\\Sessions\\\d+\\BaseNamedObjects\\/i;

/** Enterprise, mobile and ICS tactics by MITRE's name, for a technique's tactics as ids. */
const TACTIC_ID_BY_NAME = new Map(Object.values(TACTICS).map(([id, name]) => [name, id]));

/** The tactics MITRE gives a technique, as ids. */
function mitreTactics(id: string): string[] {
  return (techniqueOf(id)?.tactics ?? [])
    .map((name) => TACTIC_ID_BY_NAME.get(name))
    .filter((t): t is string => !!t);
}

/** Tactics and techniques from /behaviour_mitre_trees, merged over sandboxes. */
function readTrees(trees: unknown): {
  tactics: Array<{ id: string; name?: string }>;
  techniques: Map<string, Technique>;
} {
  const tactics = new Map<string, { id: string; name?: string }>();
  const techniques = new Map<string, Technique>();
  for (const sandbox of Object.values(obj(trees) ?? {})) {
    for (const t of arr(obj(sandbox)?.tactics)) {
      const tac = obj(t);
      // Ids lead their lines: only ATT&CK's own forms (TA0002, T1059, T1059.001) are taken.
      const tacId = typeof tac?.id === 'string' && /^TA\d{4}$/.test(tac.id) ? tac.id : undefined;
      if (!tac || !tacId) continue;
      if (!tactics.has(tacId))
        tactics.set(tacId, compact({ id: tacId, name: tacticOf(tacId)?.name ?? clean(tac.name, 60) }));
      for (const x of arr(tac.techniques)) {
        const tech = obj(x);
        const id = typeof tech?.id === 'string' && TECHNIQUE_ID.test(tech.id) ? tech.id : undefined;
        if (!tech || !id) continue;
        const sigs = arr(tech.signatures)
          .map((s) => obj(s))
          .filter((s): s is Json => !!s)
          .sort((a, b) => severityRank(sevName(a.severity)) - severityRank(sevName(b.severity)));
        const prev = techniques.get(id);
        const severity = sevName(sigs[0]?.severity);
        const merged: Technique = compact({
          id,
          name: prev?.name ?? techniqueOf(id)?.name ?? clean(tech.name, 70),
          severity: prev && severityRank(prev.severity) <= severityRank(severity) ? prev.severity : severity,
          tactics: distinct([...(prev?.tactics ?? []), tacId]),
          seen: prev?.seen ?? clean(sigs[0]?.description, 90),
        });
        techniques.set(id, merged);
      }
    }
  }
  return { tactics: [...tactics.values()], techniques };
}

/** Techniques named in the summary itself (attack_techniques and mitre_attack_techniques). */
function summaryTechniques(b: Json, into: Map<string, Technique>): void {
  const add = (id: string | undefined, severity: string | undefined, seen: string | undefined) => {
    if (!id || !TECHNIQUE_ID.test(id)) return;
    const prev = into.get(id);
    const better = !prev || severityRank(severity) < severityRank(prev.severity);
    into.set(
      id,
      compact({
        ...(prev ?? { id }),
        id,
        name: prev?.name ?? techniqueOf(id)?.name,
        severity: better ? (severity ?? prev?.severity) : prev?.severity,
        // A technique no tree placed takes MITRE's tactics.
        tactics: prev?.tactics ?? mitreTactics(id),
        seen: prev?.seen ?? seen,
      }),
    );
  };
  for (const [id, list] of Object.entries(obj(b.attack_techniques) ?? {})) {
    const sigs = arr(list)
      .map((s) => obj(s))
      .filter((s): s is Json => !!s)
      .sort((x, y) => severityRank(sevName(x.severity)) - severityRank(sevName(y.severity)));
    add(clean(id, 20), sevName(sigs[0]?.severity), clean(sigs[0]?.description, 90));
  }
  for (const m of arr(b.mitre_attack_techniques)) {
    const o = obj(m);
    add(clean(o?.id, 20), sevName(o?.severity), clean(o?.signature_description, 90));
  }
}

const SHOWN_FIELDS = new Set([
  'verdicts',
  'verdict_labels',
  'verdict_confidence',
  'tags',
  'attack_techniques',
  'mitre_attack_techniques',
  'dns_lookups',
  'ip_traffic',
  'http_conversations',
  'tls',
  'ja3_digests',
  'processes_created',
  'processes_injected',
  'processes_terminated',
  'command_executions',
  'files_dropped',
  'registry_keys_set',
  'mutexes_created',
  'sigma_analysis_results',
  'ids_alerts',
  'signature_matches',
]);

/** JA3 fingerprints, each with the server names (SNI) it was sent to. */
function ja3Lines(b: Json): string[] {
  const byJa3 = new Map<string, string[]>();
  const other: string[] = [];
  for (const t of arr(b.tls)) {
    const o = obj(t);
    if (!o) continue;
    const ja3 = clean(o.ja3, 32);
    const sni = clean(o.sni, 100);
    if (ja3) byJa3.set(ja3, distinct([...(byJa3.get(ja3) ?? []), ...(sni ? [sni] : [])]));
    else if (sni) other.push(sni);
  }
  for (const d of strings(b.ja3_digests, 32)) if (!byJa3.has(d)) byJa3.set(d, []);
  return [
    ...[...byJa3].map(([ja3, snis]) => `JA3 ${ja3}${snis.length ? ` (${snis.join(', ')})` : ''}`),
    ...distinct(other).map((sni) => `SNI ${sni}`),
  ];
}

/**
 * `input` is the hash asked with; `summary` the data of /files/{id}/behaviour_summary; `trees` the
 * data of /files/{id}/behaviour_mitre_trees, or undefined when it could not be fetched.
 */
export function summarizeBehaviour(
  input: string,
  summary: unknown,
  trees: unknown,
  detail: Detail = 'concise',
): BehaviourSummary {
  const caps = CAPS[detail];
  const b = obj(summary) ?? {};
  const tree = trees === undefined ? undefined : readTrees(trees);
  const techMap = new Map(tree?.techniques ?? []);
  summaryTechniques(b, techMap);
  const techniques = capped(
    [...techMap.values()]
      .sort((x, y) => severityRank(x.severity) - severityRank(y.severity))
      // The sandboxes' own words about a technique are untrusted prose: only the detailed answer has them.
      .map((t) => (detail === 'detailed' ? t : compact({ ...t, seen: undefined }))),
    caps.techniques,
  );

  const dns = capped(
    arr(b.dns_lookups)
      .map((d) => obj(d))
      .filter((d): d is Json => !!d && !!clean(d.hostname))
      .map((d) =>
        compact({ host: clean(d.hostname, 100) as string, ips: strings(d.resolved_ips, 45, caps.ips) }),
      )
      .filter((d, i, all) => all.findIndex((x) => x.host === d.host) === i),
    caps.dns,
  );
  const ip = capped(
    distinct(
      arr(b.ip_traffic)
        .map((t) => obj(t))
        .filter((t): t is Json => !!t && !!clean(t.destination_ip))
        .map(
          (t) =>
            `${clean(t.destination_ip, 45)}${num(t.destination_port) !== undefined ? `:${t.destination_port}` : ''}` +
            `${clean(t.transport_layer_protocol, 8) ? `/${clean(t.transport_layer_protocol, 8)}` : ''}`,
        ),
    ),
    caps.ip,
  );
  const http = capped(
    distinct(
      arr(b.http_conversations)
        .map((h) => obj(h))
        .filter((h): h is Json => !!h && !!clean(h.url))
        .map((h) =>
          [clean(h.request_method, 10), code(clean(h.url, 160) as string), num(h.response_status_code)]
            .filter((x) => x !== undefined)
            .join(' '),
        ),
    ),
    caps.http,
  );
  const tls = capped(ja3Lines(b), caps.tls);

  // Processes in the order the sandboxes started them; then the command lines not among those shown,
  // whichever sandbox recorded them, the most telling first.
  // Compared whole (cut only to PROCESS_CHARS), shown cut to their caps.
  // The sample's own start ("%SAMPLEPATH%\\<name>", without arguments) goes without saying.
  const notTheSample = (p: string) => !SAMPLE_ITSELF.test(p);
  const created = distinctShapes(strings(b.processes_created, PROCESS_CHARS)).filter(notTheSample);
  const procs = capped(created, caps.processes);
  const commandPool = distinctShapes(
    [...strings(b.command_executions, PROCESS_CHARS).filter(notTheSample), ...created],
    new Set(procs.list.map(shape)),
  );
  const commands = capped(ranked(commandPool, commandRank), caps.commands);
  const injected = capped(distinctShapes(strings(b.processes_injected, 120)), caps.injected);
  const terminated = capped(
    ranked(
      distinctShapes(
        strings(b.processes_terminated, PROCESS_CHARS).filter(notTheSample),
        new Set([...created, ...commandPool].map(shape)),
      ),
      (p) => (NOISY_PROCESS.test(p) ? 1 : 0),
    ),
    caps.terminated,
  );
  const shown = (list: string[], n: number) => list.map((p) => capCodePoints(p, n));

  const files = distinctBy(
    arr(b.files_dropped)
      .map((f) => obj(f))
      .filter((f): f is Json => !!f)
      .map((f) =>
        compact({ path: clean(f.path, 120), sha256: clean(f.sha256, 64), type: clean(f.type, 30) }),
      ),
    // One line per distinct file (the same bytes are often dropped under several paths).
    (f) => f.sha256 ?? f.path ?? '',
  );
  // A path without a hash adds nothing when the same path was recorded with one.
  const hashedPaths = new Set(files.filter((f) => f.sha256 && f.path).map((f) => shape(f.path as string)));
  const dropped = capped(
    ranked(
      files.filter((f) => !!f.sha256 || !f.path || !hashedPaths.has(shape(f.path))),
      droppedRank,
    ),
    caps.dropped,
  );
  const registry = capped(
    registryOrder(
      distinctBy(
        arr(b.registry_keys_set)
          .map((r) => obj(r))
          .filter((r): r is Json => !!r && !!clean(r.key))
          .map((r) => compact({ key: clean(r.key, 120) as string, value: clean(r.value, 40) })),
        (r) => `${r.key}\u0000${r.value ?? ''}`,
      ),
    ),
    caps.registry,
  );
  const mutexes = capped(
    distinct(strings(b.mutexes_created, 120).map((m) => capCodePoints(m.replace(SESSION_NAMESPACE, ''), 80))),
    caps.mutexes,
  );
  const sigma = capped(
    arr(b.sigma_analysis_results)
      .map((s) => obj(s))
      .filter((s): s is Json => !!s)
      .map((s) => compact({ title: clean(s.rule_title, 100) ?? '?', level: sevName(s.rule_level) }))
      .sort((x, y) => severityRank(x.level) - severityRank(y.level)),
    caps.rules,
  );
  const idsSeen = new Set<string>();
  const ids = capped(
    arr(b.ids_alerts)
      .map((s) => obj(s))
      .filter((s): s is Json => !!s)
      .map((s) => compact({ message: clean(s.rule_msg, 100) ?? '?', severity: sevName(s.alert_severity) }))
      .filter((s) => !idsSeen.has(s.message) && !!idsSeen.add(s.message))
      .sort((x, y) => severityRank(x.severity) - severityRank(y.severity)),
    caps.rules,
  );
  const signatures = capped(
    arr(b.signature_matches)
      .map((s) => obj(s))
      .filter((s): s is Json => !!s && !!clean(s.name))
      .map((s) =>
        compact({
          name: clean(s.name, 80) as string,
          format: clean(s.format, 30)?.replace(/^SIG_FORMAT_/, ''),
        }),
      ),
    caps.rules,
  );

  const notShown: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) {
    if (SHOWN_FIELDS.has(k)) continue;
    const n = Array.isArray(v) ? v.length : obj(v) ? Object.keys(v as Json).length : 0;
    if (n > 0) notShown[clean(k, 40) ?? '?'] = n;
  }

  return compact({
    id: /^[0-9a-f]{64}$/i.test(input) ? input.toLowerCase() : undefined,
    input,
    verdicts: strings(b.verdicts, 30, 5),
    verdict_labels: strings(b.verdict_labels, 40, 5),
    verdict_confidence: num(b.verdict_confidence),
    tags: distinct(strings(b.tags, 40)).slice(0, 12),
    tactics: tree?.tactics,
    techniques: techniques.list,
    techniques_more: techniques.more,
    attack_tree: tree === undefined ? 'unavailable' : tree.tactics.length > 0 ? 'available' : 'empty',
    dns: dns.list,
    dns_more: dns.more,
    ip_traffic: ip.list,
    ip_traffic_more: ip.more,
    http: http.list,
    http_more: http.more,
    tls: tls.list,
    tls_more: tls.more,
    processes_created: shown(procs.list, 160),
    processes_created_more: procs.more,
    processes_injected: injected.list,
    processes_injected_more: injected.more,
    processes_terminated: shown(terminated.list, 160),
    processes_terminated_more: terminated.more,
    command_lines: commands.list.map((c) => excerpt(c, caps.commandChars)),
    command_lines_more: commands.more,
    files_dropped: dropped.list,
    files_dropped_more: dropped.more,
    registry_set: registry.list,
    registry_set_more: registry.more,
    mutexes: mutexes.list,
    mutexes_more: mutexes.more,
    sigma: sigma.list,
    sigma_more: sigma.more,
    ids: ids.list,
    ids_more: ids.more,
    signatures: signatures.list,
    signatures_more: signatures.more,
    not_shown: notShown,
    detail,
  });
}

function list(items: string[] | undefined, more: number | undefined, sep = '; '): string | undefined {
  return items?.length ? joinMore(items, more ?? 0, sep) : undefined;
}

/** VirusTotal's page with every sandbox report of the file (the GUI takes any of its hashes). */
export function behaviourLink(s: BehaviourSummary): string {
  return `${guiLink('file', s.id ?? s.input)}/behavior`;
}

/**
 * Tiers, 1 kept longest. When the budget is short, sections are cut in this order: mutexes, registry,
 * files dropped, command lines, processes, the list of unshown fields, the other sections; ATT&CK
 * techniques and network indicators last. Verdicts and tactics are lines, never cut.
 */
const KEEP = {
  attack: 1,
  network: 1,
  other: 2,
  notShown: 3,
  processes: 4,
  commands: 5,
  dropped: 6,
  registry: 7,
  mutexes: 8,
};

/** A tactic by id: MITRE's name, else the sandbox's (quoted), else the id. */
function tacticName(id: string, fromTree: Map<string, string | undefined>): string {
  const known = tacticOf(id)?.name;
  if (known) return known;
  const vt = fromTree.get(id);
  return vt ? q(vt) : id;
}

/**
 * "T1055 Process Injection": MITRE's name (a detailed answer names a sub-technique's parent too); a
 * name only the sandbox gives is quoted.
 */
function techniqueName(x: Technique, detailed: boolean): string {
  const mitre = techniqueOf(x.id);
  if (mitre) return detailed ? techniqueLabel(x.id) : `${mitre.id} ${mitre.name}`;
  return `${x.id}${x.name ? ` ${q(x.name)}` : ''}`;
}

function techniqueText(s: BehaviourSummary, n: number, detailed: boolean): string | undefined {
  if (!s.techniques?.length) return undefined;
  const fromTree = new Map((s.tactics ?? []).map((x) => [x.id, x.name]));
  const shown = s.techniques.slice(0, n);
  const more = s.techniques.length - shown.length + (s.techniques_more ?? 0);
  return `ATT&CK techniques:\n${shown
    .map(
      (x) =>
        `- ${techniqueName(x, detailed)}${x.severity ? ` [${x.severity}]` : ''}` +
        `${x.tactics?.length ? ` (${x.tactics.map((id) => tacticName(id, fromTree)).join(', ')})` : ''}` +
        `${x.seen ? `: ${q(x.seen)}` : ''}`,
    )
    .join('\n')}${more > 0 ? `\n(+${plural(more, 'more technique')})` : ''}`;
}

function dashList(title: string, items: string[], more: number | undefined): string {
  return `${title}:\n${items.map((p) => `- ${p}`).join('\n')}${more ? `\n(+${more} more)` : ''}`;
}

/** Whether any list was cut or any field left out: what the closing line of a concise answer is about. */
function anythingLeftOut(s: BehaviourSummary): boolean {
  return (
    Object.entries(s).some(([k, v]) => k.endsWith('_more') && typeof v === 'number' && v > 0) ||
    Object.keys(s.not_shown ?? {}).length > 0
  );
}

export function renderBehaviourText(s: BehaviourSummary, maxChars: number): string {
  const detailed = s.detail === 'detailed';
  const link = `Full sandbox reports: ${behaviourLink(s)}`;
  const t = new TextBuilder();
  t.line(`Sandbox behaviour of file ${s.id ?? s.input} (all sandboxes merged)`);
  const verdict = [
    s.verdicts?.length ? s.verdicts.join(', ') : undefined,
    s.verdict_labels?.length ? `labels ${s.verdict_labels.join(', ')}` : undefined,
    s.verdict_confidence !== undefined ? `confidence ${s.verdict_confidence}` : undefined,
  ].filter(Boolean);
  t.line(verdict.length ? `Sandbox verdict: ${verdict.join(' · ')}` : 'Sandbox verdict: none given.');
  t.section('tags', s.tags?.length ? `Tags: ${s.tags.join(', ')}` : undefined, KEEP.other);
  // A concise answer names each technique's tactics on its line; a detailed one lists them first too.
  if (detailed && s.tactics?.length) {
    const fromTree = new Map(s.tactics.map((x) => [x.id, x.name]));
    t.line(`ATT&CK tactics: ${s.tactics.map((x) => `${tacticName(x.id, fromTree)} (${x.id})`).join(', ')}`);
  }
  if (s.attack_tree === 'unavailable')
    t.line('ATT&CK tree: unavailable (its lookup failed); techniques below come from the summary.');
  if (s.attack_tree === 'empty') t.line('ATT&CK tree: the sandboxes mapped no tactics.');
  // The techniques come most severe first: when the whole list does not fit, the first ones do.
  const n = s.techniques?.length ?? 0;
  t.section(
    'ATT&CK techniques',
    [n, 8, 4].filter((k, i) => i === 0 || k < n).map((k) => techniqueText(s, k, detailed) ?? ''),
    KEEP.attack,
  );
  t.line('Observed by the sandboxes (strings from the sample: untrusted data):');
  t.section(
    'DNS lookups',
    s.dns?.length
      ? `DNS: ${joinMore(
          s.dns.map((d) => `${d.host}${d.ips?.length ? ` → ${d.ips.join(', ')}` : ''}`),
          s.dns_more ?? 0,
          '; ',
        )}`
      : undefined,
    KEEP.network,
  );
  t.section(
    'contacted IPs',
    s.ip_traffic?.length ? `IP traffic: ${list(s.ip_traffic, s.ip_traffic_more, ', ')}` : undefined,
    KEEP.network,
  );
  t.section('HTTP requests', s.http?.length ? `HTTP: ${list(s.http, s.http_more)}` : undefined, KEEP.network);
  t.section('TLS', s.tls?.length ? `TLS: ${list(s.tls, s.tls_more)}` : undefined, KEEP.other);
  t.section(
    'processes created',
    s.processes_created?.length
      ? detailed
        ? dashList('Processes created', s.processes_created.map(q), s.processes_created_more)
        : `Processes created: ${list(s.processes_created.map(q), s.processes_created_more, ', ')}`
      : undefined,
    KEEP.processes,
  );
  t.section(
    'injected processes',
    s.processes_injected?.length
      ? `Injected into: ${list(s.processes_injected.map(q), s.processes_injected_more, ', ')}`
      : undefined,
    KEEP.other,
  );
  t.section(
    'terminated processes',
    s.processes_terminated?.length
      ? `Also terminated: ${list(s.processes_terminated.map(q), s.processes_terminated_more, ', ')}`
      : undefined,
    KEEP.processes,
  );
  t.section(
    'command lines',
    s.command_lines?.length
      ? dashList('Other command lines', s.command_lines.map(q), s.command_lines_more)
      : undefined,
    KEEP.commands,
  );
  t.section(
    'files dropped',
    s.files_dropped?.length
      ? dashList(
          'Files dropped',
          s.files_dropped.map((f) =>
            // A copy of the sample needs no hash: the first line has it.
            f.sha256 && f.sha256 === s.id
              ? `${f.path ? q(f.path) : '?'}: a copy of the sample`
              : `${f.path ? q(f.path) : '?'}${f.sha256 ? ` sha256 ${f.sha256}` : ''}${f.type ? ` (${f.type})` : ''}`,
          ),
          s.files_dropped_more,
        )
      : undefined,
    KEEP.dropped,
  );
  t.section(
    'registry keys set',
    s.registry_set?.length
      ? dashList(
          'Registry keys set',
          s.registry_set.map((r) => `${q(r.key)}${r.value ? ` = ${q(r.value)}` : ''}`),
          s.registry_set_more,
        )
      : undefined,
    KEEP.registry,
  );
  t.section(
    'mutexes',
    s.mutexes?.length ? `Mutexes: ${list(s.mutexes.map(q), s.mutexes_more, ', ')}` : undefined,
    KEEP.mutexes,
  );
  t.section(
    'Sigma rules',
    s.sigma?.length
      ? `Sigma: ${list(
          s.sigma.map((r) => `[${r.level ?? '?'}] ${r.title}`),
          s.sigma_more,
        )}`
      : undefined,
    KEEP.other,
  );
  t.section(
    'IDS alerts',
    s.ids?.length
      ? `IDS: ${list(
          s.ids.map((r) => `[${r.severity ?? '?'}] ${r.message}`),
          s.ids_more,
        )}`
      : undefined,
    KEEP.other,
  );
  t.section(
    'signature matches',
    s.signatures?.length
      ? `Signatures: ${list(
          s.signatures.map((r) => `${r.name}${r.format ? ` (${r.format})` : ''}`),
          s.signatures_more,
        )}`
      : undefined,
    KEEP.other,
  );
  // What was left out, and how to get it: the fields not shown at all (a concise answer names the
  // largest), then the choice for more.
  const fields = Object.entries(s.not_shown ?? {})
    .sort((a, b) => (detailed ? 0 : b[1] - a[1]))
    .map(([k, n]) => `${k} ${n}`);
  const fieldsShown = detailed ? fields.length : 3;
  t.section(
    'fields not shown',
    fields.length
      ? `Also recorded, only in the full reports: ${joinMore(
          fields.slice(0, fieldsShown),
          0,
        )}${fields.length > fieldsShown ? ` (+${plural(fields.length - fieldsShown, 'more field')})` : ''}`
      : undefined,
    KEEP.notShown,
  );
  if (!detailed) {
    if (anythingLeftOut(s))
      t.line(
        'Concise answer: "+N more" is what a list leaves out; detail: "detailed" shows more (no new lookup if cached).',
      );
  } else {
    t.line(
      anythingLeftOut(s)
        ? 'Detailed: only the full reports (last line) have what is still left out ("+N more", fields above).'
        : 'Detailed: nothing recorded was left out.',
    );
  }
  // The link is the last line, whatever was cut: it is where the rest can be read.
  const body = t.render(maxChars - link.length - 1, 'The full sandbox reports (last line) have it all');
  return `${body}\n${link}`;
}
