import { JsonFile, javascript } from 'projen';

/**
 * Where the incremental file lives. Committed: the mutation task is not part of CI, so this
 * file is the only way a fresh checkout's first run is incremental (seconds instead of about
 * 20 minutes), and it records the run behind the score the README shows. Stryker re-runs only the
 * mutants whose code or covering tests changed; a change elsewhere (test/support, the jest
 * config) is not seen: run `mutation:full` then.
 */
export const MUTATION_INCREMENTAL_FILE = 'reports/stryker-incremental.json';
/**
 * The handler test files the mutation run leaves out: those that run the handler with the real
 * AWS SDK clients against the local emulators. Each of their tests loads the three clients
 * afresh, and ownership.budget.test.ts waits out the 12 s ownership budget twice: with them a
 * run of the 872 mutants was estimated at 45 to 90 minutes on two shared cores (19.5 without).
 * Every other file of test/lambda counts, ec2.test.ts (the real client-ec2 against the EC2
 * emulator) included.
 * Mutants that only the left-out tests would kill are counted as survivors.
 */
export const MUTATION_EXCLUDED_TESTS = [
  'test/lambda/account-defaults/index.emulator.test.ts',
  'test/lambda/account-defaults/ownership.budget.test.ts',
  'test/lambda/instance-upgrade/index.emulator.test.ts',
];
/** The HTML and JSON reports of the last run: local only. */
const REPORT_DIR = 'reports/mutation';

/**
 * Mutation testing of the custom-resource handler: Stryker mutates `lambda/**` and runs
 * the handler's unit and emulator tests (`test/lambda`) with its jest runner.
 *
 * - `npx projen mutation`: incremental run, against the committed incremental file;
 *   only mutants whose code or covering tests changed are run again.
 * - `npx projen mutation:full`: every mutant again (`--force`); rewrites the incremental file.
 * Both take Stryker's CLI options, e.g. `npx projen mutation --mutate lambda/account-defaults/settings.ts`.
 *
 * Not part of `build` or CI: a full run of the 872 mutants took 19.5 minutes on two shared cores.
 */
export function addMutationTesting(project: javascript.NodeProject): void {
  // Stryker 10 requires Node.js 22; 9.6 is the newest release for Node.js 20, which this
  // project still builds on. The jest runner's peer range is the exact core version: pin both.
  project.addDevDeps(
    '@stryker-mutator/core@9.6.1',
    '@stryker-mutator/jest-runner@9.6.1',
  );

  new JsonFile(project, 'stryker.config.json', {
    // Stryker rejects nothing but warns about unknown keys: no "//" marker key in this file.
    marker: false,
    obj: {
      $schema: './node_modules/@stryker-mutator/core/schema/stryker-schema.json',
      packageManager: 'npm',
      mutate: ['lambda/**/*.ts'],
      testRunner: 'jest',
      jest: {
        projectType: 'custom',
        // Merged over package.json's "jest": only the handler's tests, never test/e2e (it runs
        // the bundled handler in a separate Node.js, out of Stryker's reach) nor the construct's.
        // No coverage (Stryker also forces this, and drops the reporters, junit included).
        // Every test file of test/lambda counts but MUTATION_EXCLUDED_TESTS (see there).
        config: {
          testMatch: ['<rootDir>/test/lambda/**/*.test.ts'],
          testPathIgnorePatterns: ['/node_modules/', ...MUTATION_EXCLUDED_TESTS.map((file) => `<rootDir>/${file.replace(/\./g, '\\.')}$`)],
          collectCoverage: false,
        },
        // Run only the test files that import the mutated file (per-test coverage then
        // narrows it to the tests that reach the mutant).
        enableFindRelatedTests: true,
      },
      coverageAnalysis: 'perTest',
      // Stryker's instrumented code is not type-correct: ts-jest must not type-check lambda/
      // (the default pattern covers only src/, test/ and lib/).
      disableTypeChecks: '{lambda,test}/**/*.ts',
      incremental: true,
      incrementalFile: MUTATION_INCREMENTAL_FILE,
      reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
      htmlReporter: { fileName: `${REPORT_DIR}/index.html` },
      jsonReporter: { fileName: `${REPORT_DIR}/mutation.json` },
      clearTextReporter: { allowColor: false, logTests: false, reportMutants: true, reportScoreTable: true },
      // Two cores, shared: one jest worker per test run, at most two test runners.
      concurrency: 2,
      // A mutant times out after (its tests' time in the initial run) x 2 + 5 s. Many mutants of
      // the retry loops hang until then: a longer margin makes the run much slower, and the
      // factor already gives the slow emulator tests room on a busy machine.
      timeoutMS: 5000,
      timeoutFactor: 2,
      thresholds: { high: 85, low: 70, break: null },
      tempDirName: '.stryker-tmp',
      cleanTempDir: 'always',
    },
  });

  const strykerRun = 'stryker run';
  project.addTask('mutation', {
    description: `Mutation testing of the handler (Stryker, lambda/ against test/lambda), incremental from ${MUTATION_INCREMENTAL_FILE}; reports in ${REPORT_DIR}/`,
    exec: strykerRun,
    receiveArgs: true,
  });
  project.addTask('mutation:full', {
    description: `Mutation testing of the handler, every mutant again (ignores and rewrites ${MUTATION_INCREMENTAL_FILE})`,
    exec: `${strykerRun} --force`,
    receiveArgs: true,
  });

  // Regenerated by every run (a few hundred KB of JSON): no line diffs, folded in reviews.
  project.gitattributes.addAttributes(`/${MUTATION_INCREMENTAL_FILE}`, 'linguist-generated', '-diff');
  // Stryker sandboxes (also those of runs given --tempDirName .stryker-tmp-<name>).
  project.gitignore.exclude(`/${REPORT_DIR}/`, '/.stryker-tmp*/');
  project.npmignore?.exclude('/reports/', '/.stryker-tmp*/', '/stryker.config.json');
}
