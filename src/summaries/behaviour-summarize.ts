/** VT's behaviour summary and MITRE trees → the behaviour summary: each list cleaned, ordered and capped. */
import { capCodePoints } from '../util/sanitize.js';
import { readTrees, summaryTechniques } from './behaviour-attack.js';
import {
  capped,
  commandRank,
  distinct,
  distinctBy,
  distinctShapes,
  droppedRank,
  excerpt,
  NOISY_PROCESS,
  PROCESS_CHARS,
  ranked,
  registryOrder,
  SAMPLE_ITSELF,
  SESSION_NAMESPACE,
  sevName,
  shape,
} from './behaviour-lists.js';
import type { BehaviourSummary } from './behaviour-schema.js';
import { arr, clean, compact, type Detail, type Json, num, obj, severityRank, strings } from './common.js';
import { code } from './text.js';

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
      .flatMap((d) => {
        const host = clean(d?.hostname, 100);
        return d && host ? [compact({ host, ips: strings(d.resolved_ips, 45, caps.ips) })] : [];
      })
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
        .flatMap((h) => {
          const url = clean(h?.url, 160);
          return h && url
            ? [
                [clean(h.request_method, 10), code(url), num(h.response_status_code)]
                  .filter((x) => x !== undefined)
                  .join(' '),
              ]
            : [];
        }),
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
  const hashedPaths = new Set(files.flatMap((f) => (f.sha256 && f.path ? [shape(f.path)] : [])));
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
          .flatMap((r) => {
            const key = clean(r?.key, 120);
            return r && key ? [compact({ key, value: clean(r.value, 40) })] : [];
          }),
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
      .flatMap((s) => {
        const name = clean(s?.name, 80);
        return s && name ? [compact({ name, format: clean(s.format, 30)?.replace(/^SIG_FORMAT_/, '') })] : [];
      }),
    caps.rules,
  );

  const notShown: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) {
    if (SHOWN_FIELDS.has(k)) continue;
    const n = Array.isArray(v) ? v.length : Object.keys(obj(v) ?? {}).length;
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
