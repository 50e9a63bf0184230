/**
 * The inline code of each function (projenrc/inline-code.js): what the template
 * carries decodes to exactly the shipped bundle, and runs as that module.
 */
import * as fs from 'fs';
import * as path from 'path';
import { decodeInlineCode } from './support/inline-code';
import { HandlerName, inlineHandlerCode } from '../src/private/inline-code';

const HANDLERS: HandlerName[] = ['account-defaults', 'instance-upgrade'];
const bundleOf = (name: HandlerName) => fs.readFileSync(path.join(__dirname, '..', 'assets', 'lambda', name, 'index', 'index.js'), 'utf8');

describe.each(HANDLERS)('%s', (name) => {
  const inline = inlineHandlerCode(name);

  test('decodes to the shipped bundle, byte for byte', () => {
    expect(inline).toMatch(/brotliDecompressSync\(Buffer\.from\('[A-Za-z0-9+/=]+','base64'\)\)/);
    expect(decodeInlineCode(inline)).toBe(bundleOf(name));
  });

  test('runs as the module: its exports are the bundle\'s, handler included', () => {
    const run = (code: string) => {
      const m = { exports: {} as Record<string, unknown> };
      // The wrapper Node gives a CommonJS file (Lambda writes ZipFile to index.js and requires it).
      new Function('module', 'exports', 'require', '__filename', '__dirname', code)(m, m.exports, require, '/var/task/index.js', '/var/task');
      return m.exports;
    };
    const exported = run(inline);
    expect(typeof exported.handler).toBe('function');
    expect(Object.keys(exported).sort()).toEqual(Object.keys(run(bundleOf(name))).sort());
  });

  test('is smaller than the bundle, and says in its first line what it is and how to read it', () => {
    const [first] = inline.split('\n');
    expect(first).toMatch(new RegExp(`^// cdk-imds-account-defaults ${name} handler: assets/lambda/${name}/index/index.js .*brotliDecompressSync`));
    if (bundleOf(name).length > 4096) {
      expect(inline.length).toBeLessThan(bundleOf(name).length * 0.6);
    }
  });
});
// A missing bundle: test/imds-account-defaults-stack-set.test.ts ('a missing handler bundle').
