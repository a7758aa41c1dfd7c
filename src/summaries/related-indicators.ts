/** The entries of files, URLs, domains, IP addresses and resolutions: what a report or a pivot lands on. */
import { z } from 'zod';
import { arr, clean, compact, detectionStats, isoDay, obj, strings } from './common.js';
import {
  context,
  contextOf,
  contextText,
  count,
  day,
  detections,
  detectionsOf,
  join,
  kind,
  ratioText,
  str,
} from './related-kind.js';
import { code, q } from './text.js';

export const file = kind({
  schema: z.object({
    type: z.literal('file'),
    id: z.string(),
    ...detections,
    file_type: str,
    threat_label: str,
    name: str,
    first_seen: day,
    analysed: day,
    ...context,
  }),
  summarise: (_o, a, c, id) =>
    compact({
      type: 'file' as const,
      id: clean(a.sha256, 64) ?? id,
      file_type: clean(a.type_description, 40) ?? clean(a.type_tag, 20),
      ...detectionsOf(a),
      threat_label: clean(obj(a.popular_threat_classification)?.suggested_threat_label, 60),
      name: clean(a.meaningful_name, 80) ?? strings(a.names, 80, 1)[0],
      first_seen: isoDay(a.first_submission_date),
      analysed: isoDay(a.last_analysis_date),
      ...contextOf(c),
    }),
  line: (s) =>
    join([
      `file ${s.id}`,
      s.file_type,
      ratioText(s),
      s.threat_label,
      s.name && `name ${q(s.name)}`,
      s.first_seen && `first seen ${s.first_seen}`,
      contextText(s),
    ]),
});

export const url = kind({
  schema: z.object({
    type: z.literal('url'),
    id: z.string(),
    url: str,
    ...detections,
    threat_label: str,
    first_seen: day,
    last_seen: day,
    analysed: day,
    ...context,
  }),
  summarise: (_o, a, c, id) =>
    compact({
      type: 'url' as const,
      id,
      url: clean(a.url, 200) ?? clean(arr(c.url)[0] ?? c.url, 200),
      ...detectionsOf(a),
      // VirusTotal's consensus names only: one engine's label is not a threat label.
      threat_label: strings(a.threat_names, 60, 1)[0],
      first_seen: isoDay(a.first_submission_date),
      last_seen: isoDay(a.last_submission_date ?? a.last_analysis_date),
      analysed: isoDay(a.last_analysis_date),
      ...contextOf(c),
    }),
  line: (s) =>
    join([
      `url ${code(s.url ?? s.id)}`,
      ratioText(s),
      s.last_seen && `last seen ${s.last_seen}`,
      contextText(s),
    ]),
});

export const domain = kind({
  schema: z.object({
    type: z.literal('domain'),
    id: z.string(),
    ...detections,
    created: day,
    registrar: str,
    analysed: day,
    ...context,
  }),
  summarise: (_o, a, c, id) =>
    compact({
      type: 'domain' as const,
      id,
      ...detectionsOf(a),
      created: isoDay(a.creation_date),
      registrar: clean(a.registrar, 50),
      analysed: isoDay(a.last_analysis_date),
      ...contextOf(c),
    }),
  line: (s) =>
    join([
      `domain ${s.id}`,
      ratioText(s),
      s.created && `created ${s.created}`,
      s.registrar && `registrar ${q(s.registrar)}`,
      contextText(s),
    ]),
});

export const ipAddress = kind({
  schema: z.object({
    type: z.literal('ip_address'),
    id: z.string(),
    ...detections,
    country: str,
    as_owner: str,
    analysed: day,
    ...context,
  }),
  summarise: (_o, a, c, id) =>
    compact({
      type: 'ip_address' as const,
      id,
      ...detectionsOf(a),
      country: clean(a.country, 4),
      as_owner: clean(a.as_owner, 50),
      analysed: isoDay(a.last_analysis_date),
      ...contextOf(c),
    }),
  line: (s) => join([`ip ${s.id}`, ratioText(s), s.country, s.as_owner && q(s.as_owner), contextText(s)]),
});

export const resolution = kind({
  schema: z.object({
    type: z.literal('resolution'),
    id: z.string(),
    date: day,
    host_name: str,
    ip_address: str,
    malicious: count,
    total: count,
  }),
  summarise: (_o, a, _c, id, origin) => {
    // Read from one end, the resolution is named by its other end (the IP of a domain's resolution,
    // the host name of an IP's); VT's own id glues both together. Its detections are the other end's.
    const ip = clean(a.ip_address, 45);
    const host = clean(a.host_name, 253);
    const other = origin === 'ip_address' ? host : origin === 'domain' ? ip : undefined;
    const stats = detectionStats(
      origin === 'ip_address' ? a.host_name_last_analysis_stats : a.ip_address_last_analysis_stats,
    );
    return compact({
      type: 'resolution' as const,
      id: other ?? id,
      date: isoDay(a.date),
      host_name: other ? undefined : host,
      ip_address: other ? undefined : ip,
      malicious: stats?.malicious,
      total: stats?.total,
    });
  },
  line: (s) =>
    join([
      `${s.date ?? '?'} resolved`,
      s.host_name || s.ip_address ? `${s.host_name ?? '?'} → ${s.ip_address ?? '?'}` : s.id,
      ratioText(s),
    ]),
});
