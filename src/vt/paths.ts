/**
 * Builds API paths with every interpolated segment encoded, so that no id can
 * change the path it lands in ("../../users/me" stays one encoded segment and is refused).
 */
export function vtPath(strings: TemplateStringsArray, ...segments: Array<string | number>): string {
  let out = strings[0] ?? '';
  segments.forEach((seg, i) => {
    const s = String(seg);
    if (s === '' || s === '.' || s === '..') {
      throw new Error(`Refusing to build an API path with the segment "${s}".`);
    }
    out += encodeURIComponent(s) + (strings[i + 1] ?? '');
  });
  return out;
}
