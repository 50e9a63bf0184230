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
 *   (brotli at quality 11, as Z85 text: under half the size) with Node's own zlib and runs
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

/**
 * Z85 (ZeroMQ RFC 32): 4 bytes in 5 characters, an alphabet without quotes,
 * backslash or comma, so the text needs no escaping in a JavaScript string nor in
 * the template's JSON. 6.25 % smaller than base64, which counts in the StackSet's
 * TemplateBody budget.
 */
const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

/** Z85 of `data` padded with zeros to a multiple of 4 bytes (the loader cuts the padding off). */
function z85(data) {
  const padded = Buffer.concat([data, Buffer.alloc((4 - (data.length % 4)) % 4)]);
  let out = '';
  for (let i = 0; i < padded.length; i += 4) {
    let value = padded.readUInt32BE(i);
    let chunk = '';
    for (let k = 0; k < 5; k++) {
      chunk = Z85[value % 85] + chunk;
      value = Math.floor(value / 85);
    }
    out += chunk;
  }
  return out;
}

/**
 * The loader: one comment line, then one line of code. Its code line starts with
 * `const d=...,c=d('<Z85>',<length>)`: `c` is the bundle's text (the README's command
 * to read it runs exactly that part), then the module is run with the runtime's require.
 */
function loaderFor(name, bundle) {
  const packed = zlib.brotliCompressSync(bundle, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MAX_QUALITY,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bundle.length,
    },
  });
  const decode = `(s,n)=>{const a='${Z85}',b=Buffer.alloc(s.length/5*4);for(let i=0;i<s.length;i+=5){let v=0;for(let k=0;k<5;k++)v=v*85+a.indexOf(s[i+k]);b.writeUInt32BE(v,i/5*4)}return require('zlib').brotliDecompressSync(b.subarray(0,n)).toString()}`;
  return [
    // Short: this line is in every StackSet template that carries the loader (the README's
    // "Reading the inline code" has the command that prints the code).
    `// cdk-imds-account-defaults ${name}: assets/lambda/${name}/index/index.js, brotli-compressed (README: Reading the inline code)`,
    `const d=${decode},c=d('${z85(packed)}',${packed.length}),m={exports:{}};new Function('module','exports','require',c)(m,m.exports,require);module.exports=m.exports;`,
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
