/** The behaviour summary → the text the model reads, within a budget; the link to the full reports last. */
import { tacticOf, techniqueLabel, techniqueOf } from './attack.js';
import type { BehaviourSummary, Technique } from './behaviour-schema.js';
import { guiLink, plural } from './common.js';
import { joinMore, q, TextBuilder } from './text.js';

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
