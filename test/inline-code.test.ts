/**
 * The inline code of each function (src/private/inline-code.ts, projenrc/inline-code.js):
 * stacks carry the plain bundle (index.js); the compressed loader (inline.js) decodes to
 * exactly that bundle and runs as that module; the Description names the library
 * version and the SHA-256 of the code carried.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { decodeInlineCode, packedOf } from './support/inline-code';
import {
  DESCRIPTION_MAX_CHARS,
  HandlerName,
  codeSha256,
  functionDescription,
  inlineCodeFormOf,
  inlineFunctionCode,
  inlineHandlerCode,
  libraryVersion,
  useCompressedInlineCode,
} from '../src/private/inline-code';

const HANDLERS: HandlerName[] = ['account-defaults', 'instance-upgrade'];
const ROOT = path.join(__dirname, '..');
const fileOf = (name: HandlerName, file: string) => path.join(ROOT, 'assets', 'lambda', name, 'index', file);
const bundleOf = (name: HandlerName) => fs.readFileSync(fileOf(name, 'index.js'), 'utf8');
const PACKAGE_VERSION: string = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;

describe.each(HANDLERS)('%s', (name) => {
  const loader = inlineHandlerCode(name, 'compressed');

  test('the plain form is the shipped bundle itself; the compressed form is inline.js', () => {
    expect(inlineHandlerCode(name)).toBe(bundleOf(name));
    expect(inlineHandlerCode(name, 'plain')).toBe(bundleOf(name));
    expect(loader).toBe(fs.readFileSync(fileOf(name, 'inline.js'), 'utf8'));
  });

  test('the compressed loader decodes to the shipped bundle, byte for byte', () => {
    expect(packedOf(loader)?.text).toMatch(/^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]+$/);
    expect(decodeInlineCode(loader)).toBe(bundleOf(name));
  });

  test("the README's command prints the loader's code: the bundle", () => {
    // README, "Reading the inline code": run the loader's own decoder, up to `c`.
    const line = loader.split('\n')[1];
    expect(new Function('require', `${line.split(',m={exports')[0]};return c`)(require)).toBe(bundleOf(name));
  });

  test('both forms run as the module: the same exports, handler included', () => {
    const run = (code: string) => {
      const m = { exports: {} as Record<string, unknown> };
      // The wrapper Node gives a CommonJS file (Lambda writes ZipFile to index.js and requires it).
      new Function('module', 'exports', 'require', '__filename', '__dirname', code)(m, m.exports, require, '/var/task/index.js', '/var/task');
      return m.exports;
    };
    const exported = run(loader);
    expect(typeof exported.handler).toBe('function');
    expect(Object.keys(exported).sort()).toEqual(Object.keys(run(bundleOf(name))).sort());
    expect(typeof run(inlineHandlerCode(name)).handler).toBe('function');
  });

  test('the loader is smaller than the bundle, and says in its first line what it is and where the README tells how to read it', () => {
    const [first] = loader.split('\n');
    expect(first).toMatch(new RegExp(`^// cdk-imds-account-defaults ${name}: assets/lambda/${name}/index/index.js, brotli-compressed \\(README: Reading the inline code\\)$`));
    if (bundleOf(name).length > 4096) {
      expect(loader.length).toBeLessThan(bundleOf(name).length * 0.6);
    }
  });

  test('the plain bundle is readable: no compressed payload, no code built from strings', () => {
    const plain = inlineHandlerCode(name);
    expect(plain).not.toMatch(/brotliDecompressSync|new Function\(|\beval\(/);
    expect(plain).toContain('module.exports=');
  });
});

describe('which form a stack carries', () => {
  test('plain in every stack; compressed only in a stack marked for it (the StackSet\'s embedded template)', () => {
    const app = new App();
    const plain = new Stack(app, 'Plain');
    const marked = new Stack(app, 'Marked');
    useCompressedInlineCode(marked);
    expect(inlineCodeFormOf(plain)).toBe('plain');
    expect(inlineCodeFormOf(marked)).toBe('compressed');
    expect(inlineCodeFormOf(new Stack(new App(), 'Marked'))).toBe('plain');
  });

  test('inlineFunctionCode gives the code of the stack\'s form, and a Description naming exactly that code', () => {
    const app = new App();
    const marked = new Stack(app, 'Marked');
    useCompressedInlineCode(marked);
    for (const [stack, file] of [[new Stack(app, 'Plain'), 'index.js'], [marked, 'inline.js']] as const) {
      const { code, description } = inlineFunctionCode(stack, 'account-defaults', 'does a thing');
      const expected = fs.readFileSync(fileOf('account-defaults', file), 'utf8');
      expect(code.bind(stack).inlineCode).toBe(expected);
      expect(description).toBe(`cdk-imds-account-defaults ${PACKAGE_VERSION}: does a thing; code sha256 ${crypto.createHash('sha256').update(expected).digest('hex')}`);
    }
  });
});

describe('the Description', () => {
  test('names the library\'s version from its package.json', () => {
    expect(libraryVersion()).toBe(PACKAGE_VERSION);
  });

  test('carries the SHA-256 hex of the code, as `sha256sum` gives it for the file', () => {
    const code = bundleOf('instance-upgrade');
    expect(codeSha256(code)).toBe(crypto.createHash('sha256').update(fs.readFileSync(fileOf('instance-upgrade', 'index.js'))).digest('hex'));
    expect(functionDescription('upgrades', code)).toMatch(/^cdk-imds-account-defaults \S+: upgrades; code sha256 [0-9a-f]{64}$/);
  });

  test('over Lambda\'s 256 characters is refused', () => {
    expect(DESCRIPTION_MAX_CHARS).toBe(256);
    const fixed = functionDescription('', 'x').length;
    expect(functionDescription('p'.repeat(256 - fixed), 'x')).toHaveLength(256);
    expect(() => functionDescription('p'.repeat(257 - fixed), 'x')).toThrow(/the function description is 257 characters, over Lambda's 256/);
  });

  test('a package.json that is not the library\'s is refused (the version would be wrong)', () => {
    jest.isolateModules(() => {
      const realFs = jest.requireActual<typeof fs>('fs');
      jest.doMock('fs', () => ({
        ...realFs,
        readFileSync: (file: fs.PathOrFileDescriptor, ...rest: any[]) =>
          (file === path.join(ROOT, 'package.json') ? '{"name":"someone-else","version":"9.9.9"}' : (realFs.readFileSync as any)(file, ...rest)),
      }));
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const isolated = require('../src/private/inline-code') as typeof import('../src/private/inline-code');
      expect(() => isolated.libraryVersion()).toThrow(/package\.json is not this library's package\.json/);
    });
    jest.dontMock('fs');
  });
});
// A missing bundle: test/imds-account-defaults-stack-set.test.ts ('a missing handler bundle').
