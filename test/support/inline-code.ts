/**
 * Reads what a template's inline code (Code.ZipFile) runs: the loader written by
 * projenrc/inline-code.js carries the bundle brotli-compressed, as Z85 text
 * (ZeroMQ RFC 32), followed by its byte length. Decoded here on its own, not with
 * the loader's decoder, so a test that compares the two checks the loader.
 */
import * as zlib from 'zlib';

const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

/** The bytes of Z85 text (RFC 32: 5 characters a 4-byte big-endian word). */
export function z85Decode(text: string): Buffer {
  if (text.length % 5 !== 0) {
    throw new Error(`Z85 text must be a multiple of 5 characters; got ${text.length}`);
  }
  const out = Buffer.alloc((text.length / 5) * 4);
  for (let i = 0; i < text.length; i += 5) {
    let value = 0;
    for (const ch of text.slice(i, i + 5)) {
      const digit = Z85.indexOf(ch);
      if (digit < 0) {
        throw new Error(`not a Z85 character: ${JSON.stringify(ch)}`);
      }
      value = value * 85 + digit;
    }
    out.writeUInt32BE(value, (i / 5) * 4);
  }
  return out;
}

/** The packed text and length in a loader, or undefined when the code is not one. */
export function packedOf(zipFile: string): { readonly text: string; readonly length: number } | undefined {
  const m = /,c=d\('([^',]+)',(\d+)\),m=\{exports:\{\}\};/.exec(zipFile);
  return m ? { text: m[1], length: Number(m[2]) } : undefined;
}

/** The JavaScript the inline loader runs; a ZipFile that is not such a loader is returned as it is. */
export function decodeInlineCode(zipFile: string): string {
  const packed = packedOf(zipFile);
  return packed === undefined ? zipFile : zlib.brotliDecompressSync(z85Decode(packed.text).subarray(0, packed.length)).toString();
}
