/**
 * The detailed file report's structure part: magic, TrID, packers, PE sections, imports and exports,
 * certificates, Android package, ExifTool and the engine list, made from the raw VT file object and
 * rendered as the last sections of the file text.
 */
import { arr, clean, compact, engineResults, isoDate, type Json, num, obj, strings } from './common.js';
import type { FileDetails } from './file-schema.js';
import type { TextBuilder } from './text.js';

export function detailsOf(a: Json): FileDetails {
  const pe = obj(a.pe_info);
  const sections = arr(pe?.sections).map((s) => {
    const o = obj(s) ?? {};
    return compact({
      name: clean(o.name, 20),
      virtual_size: num(o.virtual_size),
      raw_size: num(o.raw_size),
      entropy: num(o.entropy),
      flags: clean(o.flags, 10),
    });
  });
  const imports = arr(pe?.import_list).map((l) => {
    const o = obj(l) ?? {};
    const fns = strings(o.imported_functions, 60);
    return { library: clean(o.library_name, 60) ?? '?', count: fns.length, functions: fns.slice(0, 6) };
  });
  const exif = obj(a.exiftool);
  const exifPicked: Record<string, string> = {};
  for (const [k, v] of Object.entries(exif ?? {}).slice(0, 14)) {
    const value = clean(v, 80);
    if (value !== undefined) exifPicked[clean(k, 40) ?? '?'] = value;
  }
  const sig = obj(a.signature_info);
  const signers = arr(sig?.['signers details']).map((d) => {
    const o = obj(d) ?? {};
    return compact({
      name: clean(o.name, 80),
      status: clean(o.status, 60),
      valid_from: clean(o['valid from'], 40),
      valid_to: clean(o['valid to'], 40),
      thumbprint: clean(o.thumbprint, 64),
    });
  });
  const results = engineResults(a.last_analysis_results);
  const andro = obj(a.androguard);
  return compact({
    magic: clean(a.magic, 120),
    type_tags: strings(a.type_tags, 30),
    trid: arr(a.trid)
      .slice(0, 5)
      .map((t) => {
        const o = obj(t) ?? {};
        const p = num(o.probability);
        return clean(o.file_type, 80) && `${clean(o.file_type, 80)}${p !== undefined ? ` (${p}%)` : ''}`;
      })
      .filter((t): t is string => !!t),
    packers: Object.entries(obj(a.packers) ?? {})
      .map(([k, v]) => [clean(k, 30), clean(v, 60)])
      .filter(([k, v]) => k !== undefined && v !== undefined)
      .map(([k, v]) => `${k}: ${v}`),
    detectiteasy: arr(obj(a.detectiteasy)?.values)
      .map((v) => {
        const o = obj(v) ?? {};
        return [clean(o.type, 30), clean(o.name, 40), clean(o.version, 30)].filter(Boolean).join(' ');
      })
      .filter((v) => v !== ''),
    compile_time: isoDate(pe?.timestamp ?? a.creation_date),
    first_seen_in_the_wild: isoDate(a.first_seen_itw_date),
    unique_sources: num(a.unique_sources),
    pe_sections: sections.slice(0, 12),
    pe_sections_more: sections.length > 12 ? sections.length - 12 : undefined,
    pe_imports: imports.slice(0, 15),
    pe_imports_more: imports.length > 15 ? imports.length - 15 : undefined,
    pe_exports: strings(pe?.exports, 60, 15),
    pe_resource_langs: keysOf(pe?.resource_langs)
      ?.slice(0, 8)
      .map((k) => clean(k, 30) ?? '?'),
    pe_overlay: obj(pe?.overlay)
      ? compact({ size: num(obj(pe?.overlay)?.size), type: clean(obj(pe?.overlay)?.filetype, 60) })
      : undefined,
    signers,
    android_package: clean(andro?.Package, 100),
    android_main_activity: clean(andro?.main_activity, 100),
    android_permissions_count: keysOf(andro?.permission_details)?.length,
    exiftool: Object.keys(exifPicked).length > 0 ? exifPicked : undefined,
    engines: results.byEngine.slice(0, 80).map((e) => `${e.engine}: ${e.label}`),
  });
}

/** The keys of an object; undefined for anything else. */
function keysOf(v: unknown): string[] | undefined {
  const o = obj(v);
  return o ? Object.keys(o) : undefined;
}

export function moreNote(n: number | undefined): string {
  return n ? ` (+${n} more)` : '';
}

export function renderDetails(t: TextBuilder, d: FileDetails): void {
  const lines: Array<[string, string | undefined]> = [];
  const joined = (label: string, items: string[] | undefined, sep = '; ') =>
    items?.length ? `${label}: ${items.join(sep)}` : undefined;
  lines.push(['magic', d.magic ? `Magic: ${d.magic}` : undefined]);
  lines.push([
    'compile time',
    d.compile_time ? `Compile time: ${d.compile_time} (can be forged)` : undefined,
  ]);
  lines.push(['TrID', joined('TrID', d.trid)]);
  lines.push(['packers', joined('Packers', d.packers)]);
  lines.push(['DetectItEasy', joined('DetectItEasy', d.detectiteasy)]);
  lines.push([
    'PE sections',
    d.pe_sections?.length
      ? `PE sections: ${d.pe_sections
          .map((s) => {
            const bits = [
              s.raw_size !== undefined && `raw ${s.raw_size}`,
              s.entropy !== undefined && `entropy ${s.entropy}`,
            ];
            const info = bits.filter(Boolean).join(', ');
            return `${s.name ?? 'unnamed'}${info ? ` (${info})` : ''}`;
          })
          .join('; ')}${moreNote(d.pe_sections_more)}`
      : undefined,
  ]);
  lines.push([
    'PE imports',
    d.pe_imports?.length
      ? `PE imports: ${d.pe_imports.map((i) => `${i.library} [${i.count}]: ${i.functions.join(', ')}`).join('; ')}${moreNote(d.pe_imports_more)}`
      : undefined,
  ]);
  lines.push(['PE exports', joined('PE exports', d.pe_exports, ', ')]);
  lines.push([
    'certificate chain',
    d.signers?.length
      ? `Certificates: ${d.signers.map((c) => [c.name, c.status, c.valid_from && `from ${c.valid_from}`, c.valid_to && `to ${c.valid_to}`].filter(Boolean).join(', ')).join(' | ')}`
      : undefined,
  ]);
  lines.push([
    'Android',
    d.android_package
      ? `Android: package ${d.android_package}${d.android_main_activity ? `, main activity ${d.android_main_activity}` : ''}${d.android_permissions_count !== undefined ? `, ${d.android_permissions_count} permissions` : ''}`
      : undefined,
  ]);
  lines.push([
    'ExifTool',
    d.exiftool
      ? `ExifTool: ${Object.entries(d.exiftool)
          .map(([k, v]) => `${k}=${v}`)
          .join('; ')}`
      : undefined,
  ]);
  lines.push(['engine results', joined('Engines', d.engines)]);
  // Structure first, then the engine list; ExifTool metadata is the first to go.
  for (const [title, text] of lines)
    t.section(title, text, title === 'ExifTool' ? 6 : title === 'engine results' ? 4 : 5);
}
