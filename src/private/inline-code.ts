import * as fs from 'fs';
import * as path from 'path';

/** The functions whose code the constructs inline: lambda/<name>/index.ts. */
export type HandlerName = 'account-defaults' | 'instance-upgrade';

const cache = new Map<HandlerName, string>();

/**
 * The inline code (Code.ZipFile) of a function: assets/lambda/<name>/index/inline.js,
 * built by `projen bundle` (projenrc/inline-code.js) and shipped in the npm package
 * beside the readable bundle it decompresses. Read once per process: it is the same
 * file for every construct.
 */
export function inlineHandlerCode(name: HandlerName): string {
  let code = cache.get(name);
  if (code === undefined) {
    const file = path.join(__dirname, '..', '..', 'assets', 'lambda', name, 'index', 'inline.js');
    if (!fs.existsSync(file)) {
      throw new Error(`cdk-imds-account-defaults: the ${name} handler bundle ${file} is missing; run "npx projen bundle" (it is built before compile and shipped in the npm package)`);
    }
    code = fs.readFileSync(file, 'utf8');
    cache.set(name, code);
  }
  return code;
}
