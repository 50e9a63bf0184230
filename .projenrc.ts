import { awscdk, javascript } from 'projen';

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

  // No GitHub workflows: CI is `.ci/run` on a clean checkout.
  github: false,
  release: false,
  depsUpgrade: false,
  buildWorkflow: false,

  devDeps: [
    // The Lambda Node.js runtime provides the EC2 client; we only build and test against it.
    '@aws-sdk/client-ec2@^3.997.0',
    // The last client without HttpTokensEnforced, to prove the handler never reports it applied when it was not.
    '@aws-sdk/client-ec2-v3996@npm:@aws-sdk/client-ec2@3.996.0',
    '@types/aws-lambda',
    'aws-sdk-client-mock@^4',
    'aws-sdk-client-mock-jest@^4',
    // Checks of the synthesized templates (2.36.50 is the newest cdk-nag whose peer range includes our minimum aws-cdk-lib).
    'cdk-nag@2.36.50',
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
    devdirs: ['test', 'examples', 'projenrc', '.projenrc.ts'],
  },
});

// ---------------------------------------------------------------------------
// The custom-resource handler: TypeScript in lambda/, bundled by esbuild into one
// minified CommonJS file that ships in the npm package (assets/) and that the
// construct inlines as Code.ZipFile at synth time. @aws-sdk/* stays external:
// the Lambda Node.js runtime provides it.
// ---------------------------------------------------------------------------
const handlerBundle = project.bundler.addBundle('./lambda/index.ts', {
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  minify: true,
  sourcemap: false,
  externals: ['@aws-sdk/*'],
});
// Tests read the bundle through the construct: make `projen test` self-sufficient.
project.testTask.prependSpawn(handlerBundle.bundleTask);

project.tsconfigDev.addInclude('../lambda/**/*.ts');
project.tsconfigDev.addInclude('../examples/**/*.ts');
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

project.synth();
