/**
 * Reads what a template's inline code (Code.ZipFile) runs: the loader written by
 * projenrc/inline-code.js carries the bundle brotli-compressed in base64.
 */
import * as zlib from 'zlib';

/** The JavaScript the inline loader runs; a ZipFile that is not such a loader is returned as it is. */
export function decodeInlineCode(zipFile: string): string {
  const packed = /Buffer\.from\('([A-Za-z0-9+/=]+)','base64'\)/.exec(zipFile)?.[1];
  return packed === undefined ? zipFile : zlib.brotliDecompressSync(Buffer.from(packed, 'base64')).toString();
}
