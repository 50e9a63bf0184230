/**
 * The inline code (Code.ZipFile) of the functions, and the Description that names it.
 *
 * Two forms, both built by `projen bundle` (projenrc/inline-code.js) and shipped in
 * the npm package:
 * - plain: assets/lambda/<name>/index/index.js, the minified bundle itself, readable
 *   in the template. Every stack gets it.
 * - compressed: assets/lambda/<name>/index/inline.js, a short loader that carries the
 *   same bundle brotli-compressed. Only the template a StackSet embeds uses it, and only
 *   when that template would not fit its budget with plain code
 *   (src/private/embedded-template.ts marks such a stack with `useCompressedInlineCode`).
 *
 * The function's Description names the library version and the SHA-256 of the exact
 * code the template carries, so a reviewer can check it against the npm package's files.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Stack, aws_lambda as lambda } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** The functions whose code the constructs inline: lambda/<name>/index.ts. */
export type HandlerName = 'account-defaults' | 'instance-upgrade' | 'readiness-report';

/** Which file of the bundle a template carries. */
export type InlineCodeForm = 'plain' | 'compressed';

/** The file of each form, in assets/lambda/<name>/index/. */
const FILE_OF: Readonly<Record<InlineCodeForm, string>> = { plain: 'index.js', compressed: 'inline.js' };

/** The npm package's name, which the Description starts with. */
export const LIBRARY_NAME = 'cdk-imds-account-defaults';

/** CloudFormation's limit on a function's Description (AWS::Lambda::Function). */
export const DESCRIPTION_MAX_CHARS = 256;

const ROOT = path.join(__dirname, '..', '..');

/** Read once per process (the same files for every construct), keyed by file path. */
const codeCache = new Map<string, string>();
let versionCache: string | undefined;

/** The stacks whose functions carry the compressed loader (a WeakSet: nothing leaks across apps). */
const compressedStacks = new WeakSet<Stack>();

/** Makes every function of `stack` carry the compressed loader instead of the plain bundle. */
export function useCompressedInlineCode(stack: Stack): void {
  compressedStacks.add(stack);
}

/** The form the functions in `scope`'s stack carry. */
export function inlineCodeFormOf(scope: IConstruct): InlineCodeForm {
  return compressedStacks.has(Stack.of(scope)) ? 'compressed' : 'plain';
}

/** The path of a handler's file in the package. */
export function handlerCodeFile(name: HandlerName, form: InlineCodeForm): string {
  return path.join(ROOT, 'assets', 'lambda', name, 'index', FILE_OF[form]);
}

/** The code of a function, in the given form (plain: the readable bundle). */
export function inlineHandlerCode(name: HandlerName, form: InlineCodeForm = 'plain'): string {
  const file = handlerCodeFile(name, form);
  let code = codeCache.get(file);
  if (code === undefined) {
    if (!fs.existsSync(file)) {
      throw new Error(`${LIBRARY_NAME}: the ${name} handler bundle ${file} is missing; run "npx projen bundle" (it is built before compile and shipped in the npm package)`);
    }
    code = fs.readFileSync(file, 'utf8');
    codeCache.set(file, code);
  }
  return code;
}

/** The library's version, from its package.json (the one shipped beside lib/ and assets/). */
export function libraryVersion(): string {
  if (versionCache === undefined) {
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    if (manifest.name !== LIBRARY_NAME || typeof manifest.version !== 'string') {
      throw new Error(`${LIBRARY_NAME}: ${path.join(ROOT, 'package.json')} is not this library's package.json`);
    }
    versionCache = manifest.version as string;
  }
  return versionCache;
}

/** The SHA-256 (hex) of the code as the template carries it (Lambda writes it to index.js byte for byte). */
export function codeSha256(code: string): string {
  return crypto.createHash('sha256').update(code, 'utf8').digest('hex');
}

/**
 * `<library> <version>: <purpose>; code sha256 <hex>`: what the function is, which
 * release made it, and the hash of its code, to compare with
 * `sha256sum node_modules/cdk-imds-account-defaults/assets/lambda/<name>/index/index.js`.
 */
export function functionDescription(purpose: string, code: string): string {
  const description = `${LIBRARY_NAME} ${libraryVersion()}: ${purpose}; code sha256 ${codeSha256(code)}`;
  if (description.length > DESCRIPTION_MAX_CHARS) {
    throw new Error(`${LIBRARY_NAME}: the function description is ${description.length} characters, over Lambda's ${DESCRIPTION_MAX_CHARS}: ${description}`);
  }
  return description;
}

/** The code and Description of a function in `scope`'s stack, in the form that stack carries. */
export function inlineFunctionCode(scope: IConstruct, name: HandlerName, purpose: string): { code: lambda.Code; description: string } {
  const code = inlineHandlerCode(name, inlineCodeFormOf(scope));
  return { code: lambda.Code.fromInline(code), description: functionDescription(purpose, code) };
}
