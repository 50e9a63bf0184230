/**
 * Integration test: deploys ImdsAccountDefaults and reads the settings back
 * from EC2 with GetInstanceMetadataDefaults.
 *
 * For a maintainer with an AWS account (it changes that account's defaults in
 * one Region while it runs, and resets them to no preference when it is
 * destroyed, so use a sandbox account):
 *
 *   npx projen compile && npx projen bundle
 *   npx --package @aws-cdk/integ-runner@2 integ-runner --directory test --language typescript \
 *     --app "npx ts-node --project test/tsconfig.json {filePath}" --update-on-failed
 *
 * Here (no AWS account) the committed snapshot next to this file is what is
 * checked: test/integ.snapshot.test.ts synthesizes this app and compares it.
 * Regenerate the snapshot after a change with `npx projen integ:snapshot`.
 *
 * The assertion (awsApiCall) deploys the integ-tests assertion provider, a
 * Lambda function with a file asset: fine for this test stack; the construct's
 * own stack has none.
 */
import { ActualResult, ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Stack } from 'aws-cdk-lib';
import { ImdsAccountDefaults, ImdsHttpTokens } from '../src';

const app = new App();
const stack = new Stack(app, 'ImdsAccountDefaultsInteg', {
  description: 'cdk-imds-account-defaults integration test: requires IMDSv2 for new instances in this account and Region while deployed',
});

// Required tokens and a hop limit of 2, without enforcement: while the test runs,
// other launches in the account that ask for IMDSv1 explicitly still succeed.
const imds = new ImdsAccountDefaults(stack, 'ImdsDefaults', {
  httpTokens: ImdsHttpTokens.REQUIRED,
  httpPutResponseHopLimit: 2,
});

const integ = new IntegTest(app, 'ImdsAccountDefaultsTest', {
  testCases: [stack],
  // The settings are account-wide: one Region at a time, never two runs in parallel.
  regions: ['us-east-1'],
  diffAssets: true,
});

// What EC2 reports is what the construct set (the account-level fields only).
integ.assertions
  .awsApiCall('EC2', 'getInstanceMetadataDefaults')
  .expect(ExpectedResult.objectLike({
    AccountLevel: {
      HttpTokens: 'required',
      HttpPutResponseHopLimit: 2,
    },
  }));

// And the construct says it applied them (no declarative policy in the way).
integ.assertions.expect('Applied', ExpectedResult.exact('true'), ActualResult.fromCustomResource(imds.customResource, 'Applied'));

app.synth();
