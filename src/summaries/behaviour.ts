/**
 * Sandbox behaviour: the merged behaviour summary of a file (often ~200 KB) and its MITRE ATT&CK
 * trees, reduced to what an analyst acts on. Every list is capped and what was cut is counted.
 * Everything here was produced by running the sample, so paths, command lines, registry values and
 * hostnames are attacker-controlled text: cleaned, capped, and labelled as such in the text. What the
 * text cannot hold is in VirusTotal's own sandbox reports, and the last line links to them.
 */
import { z } from 'zod';
import {
  arr,
  cap,
  clean,
  compact,
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
  name: str.optional(),
  severity: str.optional(),
  /** Ids of the tactics it serves. */
  tactics: strs,
  /** The most severe sandbox observation behind it. */
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
  tls: strs,
  processes_created: strs,
  processes_created_more: more,
  processes_injected: strs,
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
});
type BehaviourSummary = z.infer<typeof behaviourSummarySchema>;

const CAPS = {
  techniques: 15,
  dns: 10,
  ip: 10,
  http: 6,
  processes: 8,
  commands: 6,
  dropped: 8,
  registry: 6,
  mutexes: 8,
  rules: 6,
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

function capped<T>(items: T[], n: number): { list: T[]; more: number | undefined } {
  const c = cap(items, n);
  return { list: c.items, more: c.more || undefined };
}

const TECHNIQUE_ID = /^T\d{4}(\.\d{3})?$/;

/** Tactics and technique names from /behaviour_mitre_trees, merged over sandboxes. */
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
      if (!tactics.has(tacId)) tactics.set(tacId, compact({ id: tacId, name: clean(tac.name, 60) }));
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
          name: prev?.name ?? clean(tech.name, 70),
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
        severity: better ? (severity ?? prev?.severity) : prev?.severity,
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
  'command_executions',
  'files_dropped',
  'registry_keys_set',
  'mutexes_created',
  'sigma_analysis_results',
  'ids_alerts',
  'signature_matches',
]);

/**
 * `input` is the hash asked with; `summary` the data of /files/{id}/behaviour_summary; `trees` the
 * data of /files/{id}/behaviour_mitre_trees, or undefined when it could not be fetched.
 */
export function summarizeBehaviour(input: string, summary: unknown, trees: unknown): BehaviourSummary {
  const b = obj(summary) ?? {};
  const tree = trees === undefined ? undefined : readTrees(trees);
  const techMap = new Map(tree?.techniques ?? []);
  summaryTechniques(b, techMap);
  const techniques = capped(
    [...techMap.values()].sort((x, y) => severityRank(x.severity) - severityRank(y.severity)),
    CAPS.techniques,
  );

  const dns = capped(
    arr(b.dns_lookups)
      .map((d) => obj(d))
      .filter((d): d is Json => !!d && !!clean(d.hostname))
      .map((d) => compact({ host: clean(d.hostname, 100) as string, ips: strings(d.resolved_ips, 45, 4) }))
      .filter((d, i, all) => all.findIndex((x) => x.host === d.host) === i),
    CAPS.dns,
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
    CAPS.ip,
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
    CAPS.http,
  );
  const tls = distinct(
    arr(b.tls)
      .map((t) => obj(t))
      .filter((t): t is Json => !!t)
      .map((t) =>
        [clean(t.sni, 100), clean(t.ja3, 32) && `ja3 ${clean(t.ja3, 32)}`].filter(Boolean).join(' '),
      )
      .filter((s) => s !== ''),
  ).slice(0, 5);
  const processes = distinct(strings(b.processes_created, 160));
  const procs = capped(processes, CAPS.processes);
  const commands = capped(
    distinct(strings(b.command_executions, 200)).filter((c) => !processes.includes(c)),
    CAPS.commands,
  );
  const dropped = capped(
    arr(b.files_dropped)
      .map((f) => obj(f))
      .filter((f): f is Json => !!f)
      .map((f) => compact({ path: clean(f.path, 120), sha256: clean(f.sha256, 64), type: clean(f.type, 30) }))
      // One line per distinct file (the same bytes are often dropped under several paths).
      .filter((f, i, all) => all.findIndex((x) => (x.sha256 ?? x.path) === (f.sha256 ?? f.path)) === i)
      // Files with a hash first: those can be looked up.
      .sort((x, y) => Number(!x.sha256) - Number(!y.sha256)),
    CAPS.dropped,
  );
  const registry = capped(
    arr(b.registry_keys_set)
      .map((r) => obj(r))
      .filter((r): r is Json => !!r && !!clean(r.key))
      .map((r) => compact({ key: clean(r.key, 120) as string, value: clean(r.value, 40) })),
    CAPS.registry,
  );
  const mutexes = capped(distinct(strings(b.mutexes_created, 80)), CAPS.mutexes);
  const sigma = capped(
    arr(b.sigma_analysis_results)
      .map((s) => obj(s))
      .filter((s): s is Json => !!s)
      .map((s) => compact({ title: clean(s.rule_title, 100) ?? '?', level: sevName(s.rule_level) }))
      .sort((x, y) => severityRank(x.level) - severityRank(y.level)),
    CAPS.rules,
  );
  const idsSeen = new Set<string>();
  const ids = capped(
    arr(b.ids_alerts)
      .map((s) => obj(s))
      .filter((s): s is Json => !!s)
      .map((s) => compact({ message: clean(s.rule_msg, 100) ?? '?', severity: sevName(s.alert_severity) }))
      .filter((s) => !idsSeen.has(s.message) && !!idsSeen.add(s.message))
      .sort((x, y) => severityRank(x.severity) - severityRank(y.severity)),
    CAPS.rules,
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
    CAPS.rules,
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
    tls,
    processes_created: procs.list,
    processes_created_more: procs.more,
    processes_injected: distinct(strings(b.processes_injected, 120)).slice(0, 5),
    command_lines: commands.list,
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

function techniqueText(s: BehaviourSummary, n: number): string | undefined {
  if (!s.techniques?.length) return undefined;
  const tacticName = new Map((s.tactics ?? []).map((x) => [x.id, x.name ?? x.id]));
  const shown = s.techniques.slice(0, n);
  const more = s.techniques.length - shown.length + (s.techniques_more ?? 0);
  return `ATT&CK techniques:\n${shown
    .map(
      (x) =>
        `- ${x.id}${x.name ? ` ${x.name}` : ''}${x.severity ? ` [${x.severity}]` : ''}` +
        `${x.tactics?.length ? ` (${x.tactics.map((id) => tacticName.get(id) ?? id).join(', ')})` : ''}` +
        `${x.seen ? `: ${q(x.seen)}` : ''}`,
    )
    .join('\n')}${more > 0 ? `\n(+${plural(more, 'more technique')})` : ''}`;
}

export function renderBehaviourText(s: BehaviourSummary, maxChars: number): string {
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
  if (s.tactics?.length)
    t.line(`ATT&CK tactics: ${s.tactics.map((x) => `${x.name ?? '?'} (${x.id})`).join(', ')}`);
  if (s.attack_tree === 'unavailable')
    t.line('ATT&CK tree: unavailable (its lookup failed); techniques below come from the summary.');
  if (s.attack_tree === 'empty') t.line('ATT&CK tree: the sandboxes mapped no tactics.');
  // The techniques come most severe first: when the whole list does not fit, the first ones do.
  const n = s.techniques?.length ?? 0;
  t.section(
    'ATT&CK techniques',
    [n, 8, 4].filter((k, i) => i === 0 || k < n).map((k) => techniqueText(s, k) ?? ''),
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
  t.section('TLS', s.tls?.length ? `TLS: ${s.tls.join('; ')}` : undefined, KEEP.other);
  t.section(
    'processes created',
    s.processes_created?.length
      ? `Processes created:\n${s.processes_created.map((p) => `- ${q(p)}`).join('\n')}${s.processes_created_more ? `\n(+${s.processes_created_more} more)` : ''}`
      : undefined,
    KEEP.processes,
  );
  t.section(
    'injected processes',
    s.processes_injected?.length ? `Injected into: ${s.processes_injected.map(q).join(', ')}` : undefined,
    KEEP.other,
  );
  t.section(
    'command lines',
    s.command_lines?.length
      ? `Other command lines:\n${s.command_lines.map((p) => `- ${q(p)}`).join('\n')}${s.command_lines_more ? `\n(+${s.command_lines_more} more)` : ''}`
      : undefined,
    KEEP.commands,
  );
  t.section(
    'files dropped',
    s.files_dropped?.length
      ? `Files dropped:\n${s.files_dropped
          .map(
            (f) =>
              `- ${f.path ? q(f.path) : '?'}${f.sha256 ? ` sha256 ${f.sha256}` : ''}${f.type ? ` (${f.type})` : ''}`,
          )
          .join('\n')}${s.files_dropped_more ? `\n(+${s.files_dropped_more} more)` : ''}`
      : undefined,
    KEEP.dropped,
  );
  t.section(
    'registry keys set',
    s.registry_set?.length
      ? `Registry keys set:\n${s.registry_set
          .map((r) => `- ${q(r.key)}${r.value ? ` = ${q(r.value)}` : ''}`)
          .join('\n')}${s.registry_set_more ? `\n(+${s.registry_set_more} more)` : ''}`
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
  t.section(
    'fields not shown',
    s.not_shown && Object.keys(s.not_shown).length
      ? `Also recorded, only in the full reports (item counts): ${Object.entries(s.not_shown)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')}`
      : undefined,
    KEEP.notShown,
  );
  // The link is the last line, whatever was cut: it is where the rest can be read.
  const body = t.render(maxChars - link.length - 1, 'The full sandbox reports (last line) have it all');
  return `${body}\n${link}`;
}
