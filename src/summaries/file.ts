/**
 * File report: raw VT file object in, compact summary out (and its text form). The summary's schema
 * is the `summary` of vt_get_report's output schema for files (file-schema.ts); the detailed view's
 * file structure is made and rendered in file-details.ts.
 */
import {
  arr,
  cap,
  clean,
  compact,
  countedList,
  type Detail,
  detectionStats,
  engineResults,
  fmtInt,
  guiLink,
  isoDate,
  type Json,
  num,
  obj,
  plural,
  type ReportTextOptions,
  severityRank,
  statsLine,
  strings,
  verdictOf,
} from './common.js';
import { detailsOf, moreNote, renderDetails } from './file-details.js';
import type { FileSummary } from './file-schema.js';
import { pivotQueries } from './pivots.js';
import { code, joinMore, q, TextBuilder } from './text.js';

export { type FileSummary, fileSummarySchema } from './file-schema.js';

const LIMITS = {
  concise: { names: 3, labels: 8, rules: 5, sandboxes: 4, tags: 12 },
  detailed: { names: 20, labels: 40, rules: 25, sandboxes: 20, tags: 40 },
};

/** How much of Code Insight's analysis a summary keeps, in code points. */
const CODE_INSIGHT_CHARS = { concise: 300, detailed: 1500, short: 160 };

// Code Insight's verdict is one word ("benign", "malicious"); it is shown unquoted, so nothing else is
// (not even a few words, which could make a sentence).
const VERDICT_WORD = /^[a-z][a-z_-]{0,23}$/;

/** Prose cut to `max` code points, at the end of a word when one ends near the cut. */
function excerpt(v: unknown, max: number): string | undefined {
  const c = clean(v, max);
  if (!c?.endsWith('…')) return c;
  const space = c.lastIndexOf(' ');
  return space > max * 0.8 ? `${c.slice(0, space).replace(/[\s,;:.-]+$/, '')}…` : c;
}

/**
 * Code Insight (crowdsourced_ai_results): a model's account of what the code does. The code is the
 * attacker's, and the model may repeat what it says, so the analysis is untrusted text like a file name.
 */
function codeInsightOf(a: Json, detail: Detail): FileSummary['code_insight'] {
  const r = arr(a.crowdsourced_ai_results)
    .map((x) => obj(x))
    .find((o) => !!o && (o.category === undefined || /^code_insights?$/.test(String(o.category))));
  const analysis = excerpt(r?.analysis, CODE_INSIGHT_CHARS[detail]);
  if (!r || !analysis) return undefined;
  const verdict = clean(r.verdict, 24)?.toLowerCase();
  return compact({
    verdict: verdict && VERDICT_WORD.test(verdict) ? verdict : undefined,
    analysis,
    source: clean(r.source, 30),
  });
}

function bySeverity<T>(items: T[], sev: (t: T) => string | undefined): T[] {
  return [...items].sort((a, b) => severityRank(sev(a)) - severityRank(sev(b)));
}

/**
 * Signature state in words an analyst trusts: VT's own "verified" text, overridden by its tags when
 * they say the signature is invalid or the certificate revoked.
 */
function signatureOf(a: Json): FileSummary['signature'] {
  const s = obj(a.signature_info);
  const tags = new Set(strings(a.tags, 40));
  const problems = [
    tags.has('invalid-signature') && 'invalid signature',
    tags.has('revoked-cert') && 'revoked certificate',
  ].filter((p): p is string => !!p);
  if (!s && problems.length === 0) return undefined;
  const verified = clean(s?.verified, 80)?.replace(/\.$/, '');
  const signed = !!(s?.signers || s?.['signers details']);
  let status: string | undefined;
  if (problems.length > 0) status = `INVALID (${problems.join(', ')})`;
  else if (verified && /^signed$/i.test(verified)) status = 'valid';
  else if (verified) status = `INVALID (${verified})`;
  else if (signed) status = 'signed, not verified';
  const sig = compact({
    status,
    signers: clean(s?.signers, 160),
    product: clean(s?.product, 80),
    description: clean(s?.description, 80),
  });
  return Object.keys(sig).length > 0 ? sig : undefined;
}

function similarityOf(a: Json): FileSummary['similarity'] {
  const pe = obj(a.pe_info);
  const icon = obj(a.main_icon);
  const out: NonNullable<FileSummary['similarity']> = {
    imphash: clean(pe?.imphash, 64),
    vhash: clean(a.vhash, 200),
    ssdeep: clean(a.ssdeep, 200),
    tlsh: clean(a.tlsh, 100),
    authentihash: clean(a.authentihash, 64),
    main_icon_dhash: clean(icon?.dhash, 64),
    telfhash: clean(obj(a.elf_info)?.telfhash, 100),
  };
  const c = compact(out);
  return Object.keys(c).length > 0 ? c : undefined;
}

export function summarizeFile(data: Json, detail: Detail = 'concise'): FileSummary {
  const a = obj(data.attributes) ?? {};
  const L = LIMITS[detail];
  const sha256 = clean(a.sha256, 64) ?? clean(data.id, 64) ?? '';
  const stats = detectionStats(a.last_analysis_stats);
  const ptc = obj(a.popular_threat_classification);
  const toCounted = (v: unknown) =>
    arr(v)
      .map((x) => obj(x))
      .filter((x): x is Json => !!x)
      .map((x) => ({ value: clean(x.value, 60) ?? '?', count: num(x.count) ?? 0 }))
      .slice(0, 5);
  const meaningful = clean(a.meaningful_name, 120);
  const allNames = strings(a.names, 120).filter((n) => n !== meaningful);
  const names = cap(allNames, L.names);
  const results = engineResults(a.last_analysis_results);
  const labels = cap(results.labels, L.labels);

  const sandboxes = Object.values(obj(a.sandbox_verdicts) ?? {})
    .map((v) => obj(v))
    .filter((v): v is Json => !!v)
    .map((v) =>
      compact({
        sandbox: clean(v.sandbox_name, 40) ?? '?',
        category: clean(v.category, 30) ?? '?',
        malware: strings(v.malware_names, 40, 4),
      }),
    )
    .slice(0, L.sandboxes);

  const yaraAll = arr(a.crowdsourced_yara_results).map((y) => {
    const o = obj(y) ?? {};
    return compact({
      rule: clean(o.rule_name, 80) ?? '?',
      ruleset: clean(o.ruleset_name, 60),
      source: detail === 'detailed' ? clean(o.source, 100) : undefined,
    });
  });
  const yara = cap(yaraAll, L.rules);
  const sigmaAll = bySeverity(
    arr(a.sigma_analysis_results).map((s) => {
      const o = obj(s) ?? {};
      return compact({ title: clean(o.rule_title, 120) ?? '?', level: clean(o.rule_level, 12) });
    }),
    (s) => s.level,
  );
  const sigma = cap(sigmaAll, L.rules);
  // The same IDS rule often fires many times: show each message once, most severe first.
  const idsSeen = new Set<string>();
  const idsAll = bySeverity(
    arr(a.crowdsourced_ids_results)
      .map((i) => {
        const o = obj(i) ?? {};
        return compact({ message: clean(o.rule_msg, 120) ?? '?', severity: clean(o.alert_severity, 12) });
      })
      .filter((i) => {
        if (idsSeen.has(i.message)) return false;
        idsSeen.add(i.message);
        return true;
      }),
    (i) => i.severity,
  );
  const ids = cap(idsAll, L.rules);
  const tv = obj(a.total_votes);

  return compact({
    type: 'file' as const,
    id: sha256,
    sha256,
    md5: clean(a.md5, 32),
    sha1: clean(a.sha1, 40),
    verdict: verdictOf(stats),
    stats,
    threat_label: clean(ptc?.suggested_threat_label, 80),
    threat_categories: toCounted(ptc?.popular_threat_category),
    threat_families: toCounted(ptc?.popular_threat_name),
    type_description: clean(a.type_description, 60),
    size: num(a.size),
    meaningful_name: meaningful,
    names: names.items,
    names_more: names.more || undefined,
    first_submission: isoDate(a.first_submission_date),
    last_submission: isoDate(a.last_submission_date),
    last_analysis: isoDate(a.last_analysis_date),
    times_submitted: num(a.times_submitted),
    reputation: num(a.reputation),
    votes: tv ? { harmless: num(tv.harmless) ?? 0, malicious: num(tv.malicious) ?? 0 } : undefined,
    tags: strings(a.tags, 40, L.tags),
    detection_labels: labels.items,
    detection_labels_more: labels.more || undefined,
    sandbox_verdicts: sandboxes,
    yara_rules: yara.items,
    yara_more: yara.more || undefined,
    sigma_rules: sigma.items,
    sigma_more: sigma.more || undefined,
    ids_alerts: ids.items,
    ids_more: ids.more || undefined,
    code_insight: codeInsightOf(a, detail),
    signature: signatureOf(a),
    similarity: similarityOf(a),
    pivots: pivotQueries(a),
    link: guiLink('file', sha256),
    details: detail === 'detailed' ? detailsOf(a) : undefined,
  });
}

/** Past this many days, an answer with the write tools listed suggests a fresh scan. */
const RESCAN_AFTER_DAYS = 365;

export function renderFileText(s: FileSummary, maxChars: number, opts: ReportTextOptions = {}): string {
  const t = new TextBuilder();
  t.line(`File ${s.sha256 ?? s.id}`);
  t.line(statsLine(s.verdict, s.stats, s.last_analysis, s.analysis_age_days));
  const threat = [
    s.threat_label,
    s.threat_categories?.length ? `category ${countedList(s.threat_categories)}` : undefined,
    s.threat_families?.length ? `family ${countedList(s.threat_families)}` : undefined,
  ].filter(Boolean);
  if (threat.length) t.line(`Threat: ${threat.join(' · ')}`);
  const typeBits = [s.type_description, s.size !== undefined ? `${fmtInt(s.size)} bytes` : undefined].filter(
    Boolean,
  );
  if (typeBits.length) t.line(`Type: ${typeBits.join(', ')}`);
  if (s.meaningful_name || s.names?.length) {
    const names = [s.meaningful_name, ...(s.names ?? [])].filter((n): n is string => !!n).map(q);
    t.section('names', `Names: ${joinMore(names, s.names_more ?? 0)}`, 2);
  }
  const seen = [
    s.first_submission && `first submitted ${s.first_submission}`,
    s.last_submission && `last submitted ${s.last_submission}`,
    s.times_submitted !== undefined && plural(s.times_submitted, 'submission'),
  ].filter(Boolean);
  if (seen.length) t.line(`Seen: ${seen.join(' · ')}`);
  if (s.reputation !== undefined || s.votes) {
    const community = [
      s.reputation !== undefined && `reputation ${s.reputation}`,
      s.votes && `votes ${s.votes.malicious} malicious / ${s.votes.harmless} harmless`,
    ].filter(Boolean);
    t.section('community', `Community: ${community.join(', ')}`, 3);
  }
  t.section('tags', s.tags?.length ? `Tags: ${s.tags.join(', ')}` : undefined, 3);
  // The detailed view lists every engine with its label; the label counts would say it twice.
  if (!s.details) {
    t.section(
      'detection labels',
      s.detection_labels?.length
        ? `Detections: ${s.detection_labels.map((l) => `${l.value} ×${l.count}`).join('; ')}${moreNote(s.detection_labels_more)}`
        : undefined,
      1,
    );
  }
  t.section(
    'sandbox verdicts',
    s.sandbox_verdicts?.length
      ? `Sandboxes: ${s.sandbox_verdicts.map((v) => `${v.sandbox} ${v.category}${v.malware?.length ? ` (${v.malware.join(', ')})` : ''}`).join('; ')}`
      : undefined,
    1,
  );
  if (s.code_insight) {
    const ci = s.code_insight;
    const head = `Code Insight (AI-written, untrusted${ci.verdict ? `; verdict ${ci.verdict}` : ''}): `;
    t.section(
      'Code Insight',
      [`${head}${q(ci.analysis)}`, `${head}${q(excerpt(ci.analysis, CODE_INSIGHT_CHARS.short) ?? '')}`],
      2,
    );
  }
  t.section(
    'YARA rules',
    s.yara_rules?.length
      ? `YARA: ${s.yara_rules.map((y) => `${y.rule}${y.ruleset ? ` [${y.ruleset}]` : ''}${y.source ? ` from ${code(y.source)}` : ''}`).join('; ')}${moreNote(s.yara_more)}`
      : undefined,
    2,
  );
  t.section(
    'Sigma rules',
    s.sigma_rules?.length
      ? `Sigma: ${s.sigma_rules.map((r) => `${r.level ? `[${r.level}] ` : ''}${r.title}`).join('; ')}${moreNote(s.sigma_more)}`
      : undefined,
    2,
  );
  t.section(
    'IDS alerts',
    s.ids_alerts?.length
      ? `IDS: ${s.ids_alerts.map((r) => `${r.severity ? `[${r.severity}] ` : ''}${r.message}`).join('; ')}${moreNote(s.ids_more)}`
      : undefined,
    2,
  );
  if (s.signature) {
    const sig = s.signature;
    t.section(
      'signature',
      `Signature: ${[sig.status, sig.signers && `signer ${q(sig.signers)}`, sig.product && `product ${q(sig.product)}`].filter(Boolean).join(' · ')}`,
      2,
    );
  }
  const hashes = [s.md5 && `md5 ${s.md5}`, s.sha1 && `sha1 ${s.sha1}`].filter(Boolean);
  if (hashes.length) t.line(`Hashes: ${hashes.join(' · ')}`);
  if (s.similarity) {
    t.section(
      'similarity hashes',
      `Similarity: ${Object.entries(s.similarity)
        .map(([k, v]) => `${k} ${v}`)
        .join(' · ')}`,
      3,
    );
  }
  t.section(
    'pivot queries',
    s.pivots?.length ? `Pivots (vt_search): ${s.pivots.map((p) => p.query).join(' · ')}` : undefined,
    3,
  );
  if (s.details) renderDetails(t, s.details);
  // No tool re-analyses a known file; an upload of it (a write, listed only with submissions on) does.
  if (opts.submissions && (s.analysis_age_days ?? 0) > RESCAN_AFTER_DAYS) {
    t.section(
      'rescan hint',
      'Rescan: the analysis is over a year old. If the user has the file, vt_submit_file gets a fresh one; ' +
        'they can also press Reanalyze on its VirusTotal page (Link).',
      2,
    );
  }
  const capped =
    (s.names_more ?? 0) +
    (s.detection_labels_more ?? 0) +
    (s.yara_more ?? 0) +
    (s.sigma_more ?? 0) +
    (s.ids_more ?? 0);
  if (!s.details && capped > 0) {
    t.line(
      'More: detail="detailed" lists every engine, more names and rules, and the file structure (no new lookup while cached).',
    );
  }
  t.line(`Link: ${s.link}`);
  return t.render(maxChars);
}
