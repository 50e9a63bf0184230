/**
 * Build step (run by `projen bundle`, after esbuild): beside each handler bundle,
 * assets/lambda/<name>/index/index.js, writes its compressed form,
 * assets/lambda/<name>/index/inline.js. Both ship in the npm package.
 *
 * Which one a template carries as Code.ZipFile (src/private/inline-code.ts):
 * - index.js, the plain minified bundle, readable in the template: every stack
 *   (ImdsAccountDefaults and ImdsInstanceUpgrade stay well within the 51,200 bytes a
 *   TemplateBody may have);
 * - inline.js: only the template an ImdsAccountDefaultsStackSet embeds, and only when
 *   that template would exceed its budget (40,960 bytes, src/private/embedded-template.ts)
 *   with plain code, as with `instanceUpgrade`. It is a short CommonJS loader whose
 *   first line says what it is and how to read the code; it decompresses the bundle
 *   (brotli at quality 11, base64: under half the size) with Node's own zlib and runs
 *   it as a module, passing `require` through, so the bundle sees the runtime's
 *   @aws-sdk/* as before.
 * Each function's Description carries the SHA-256 of the file it carries.
 *
 * Compressing here, at build time, and not at synth, keeps users' templates
 * byte-identical whatever Node.js (and so whatever brotli encoder) synthesizes
 * them. test/inline-code.test.ts checks that each inline.js decodes to its
 * index.js and runs it.
 */
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

/** The loader: one comment line, then one line of code. */
function loaderFor(name, bundle) {
  const packed = zlib.brotliCompressSync(bundle, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MAX_QUALITY,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bundle.length,
    },
  }).toString('base64');
  return [
    // Short: this line is in every StackSet template that carries the loader (the README's
    // "Reading the inline code" has the command that prints the code).
    `// cdk-imds-account-defaults ${name}: assets/lambda/${name}/index/index.js of the npm package, brotli-compressed (README: Reading the inline code)`,
    `const m={exports:{}};new Function('module','exports','require','__filename','__dirname',require('zlib').brotliDecompressSync(Buffer.from('${packed}','base64')).toString())(m,m.exports,require,__filename,__dirname);module.exports=m.exports;`,
    '',
  ].join('\n');
}

for (const name of process.argv.slice(2)) {
  const dir = path.join('assets', 'lambda', name, 'index');
  const bundle = fs.readFileSync(path.join(dir, 'index.js'));
  const loader = loaderFor(name, bundle);
  fs.writeFileSync(path.join(dir, 'inline.js'), loader);
  console.log(`inline-code: ${name}: ${bundle.length} B of JavaScript -> ${Buffer.byteLength(loader)} B inline`);
}
