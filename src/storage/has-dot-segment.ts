/** Spots "." and ".." path segments in a raw location string before the WHATWG URL parser silently
 *  resolves them (azblob://a/c/../other would quietly become container "other"). Pure. */

/** True when the path of `raw` (query and fragment ignored) has a segment that is, or decodes to, "." or "..". */
export function hasDotSegment(raw: string): boolean {
  const path = raw.split(/[?#]/, 1)[0] ?? '';
  return path.split(/[/\\]/).some((seg) => {
    let s = seg;
    try {
      s = decodeURIComponent(seg);
    } catch {
      // A malformed escape is left for the URL parser to refuse.
    }
    return s === '.' || s === '..';
  });
}
