/**
 * Build step (run by `projen bundle`, after esbuild): turns each handler bundle,
 * assets/lambda/<name>/index/index.js, into the code the constructs inline as
 * Code.ZipFile, assets/lambda/<name>/index/inline.js.
 *
 * Why: the templates must stay self-contained (StackSets) and small (README,
 * "Template size"): the account-defaults handler alone is over 17 KB, and the
 * StackSet's embedded template has a 25,600-byte budget. Brotli at quality 11
 * and base64 bring the code to under half its size. inline.js is a short
 * CommonJS loader whose first line says what it is and how to read the code; it
 * decompresses the bundle with Node's own zlib and runs it as a module, passing
 * `require` through, so the bundle sees the runtime's @aws-sdk/* as before.
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
    `// cdk-imds-account-defaults ${name} handler: assets/lambda/${name}/index/index.js of the npm package, brotli-compressed to keep the template small. Read it: node -e "process.stdout.write(require('zlib').brotliDecompressSync(Buffer.from(process.argv[1],'base64')))" <the quoted string below>`,
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
