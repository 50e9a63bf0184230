/**
 * The fleet part of the benchmark: ImdsInstanceUpgrade's shipped inline function
 * on an emulated fleet (test/support/fleet.ts: a few thousand instances with their
 * MetadataNoToken datapoints, local EC2 and CloudWatch endpoints), run as Lambda
 * runs it (test/e2e/harness/lambda.ts: the runtime's Node.js and SDK clients only),
 * beside what users run today without it, measured in the same run on the same fleet:
 * AWS's Config remediation runbook `AWSConfigRemediation-EnforceEC2InstanceIMDSv2`,
 * which calls ModifyInstanceMetadataOptions with HttpTokens=required for each
 * instance and then DescribeInstances to verify it, whatever the instance still
 * does with IMDSv1. Modelled here with the same client-ec2: one DescribeInstances
 * listing (which the Config rule `ec2-imdsv2-check` stands for), then Modify and
 * Describe per instance, one instance at a time as the runbook runs once per
 * non-compliant resource.
 *
 * Printed: time, EC2 calls and CloudWatch calls per run, the ratios ours/theirs,
 * and how many instances that still use IMDSv1 each one switched to IMDSv2-only
 * (each would break). Nothing is asserted: timings depend on the machine.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Duration } from 'aws-cdk-lib';
import { ImdsInstanceUpgrade, InstanceUpgradeMode } from '../src';
import { makeCertificate } from '../test/e2e/harness/certificate';
import { scheduledEvent } from '../test/e2e/harness/eventbridge';
import { Invocation, invoke, killAll } from '../test/e2e/harness/lambda';
import { loadSdkClient } from '../test/e2e/harness/runtime';
import { ACCOUNT, functionConfig, synthesize } from '../test/e2e/harness/template';
import { AutoScalingEmulator } from '../test/support/autoscaling-emulator';
import { CloudWatchEmulator } from '../test/support/cloudwatch-emulator';
import { Ec2Emulator, TEST_CREDENTIALS, TEST_SESSION_TOKEN } from '../test/support/ec2-emulator';
import { EventBridgeEmulator } from '../test/support/eventbridge-emulator';
import { Fleet, seedFleet } from '../test/support/fleet';
import { SsmEmulator } from '../test/support/ssm-emulator';

const REGION = 'eu-west-1';

export interface FleetRun {
  readonly who: string;
  readonly ms: number;
  readonly ec2Calls: number;
  readonly cloudwatchCalls: number;
  /** Instances switched to HttpTokens=required. */
  readonly upgraded: number;
  /** Of those, instances whose MetadataNoToken sum over the lookback was above 0: their IMDSv1 callers now fail. */
  readonly upgradedWhileInUse: number;
  readonly note?: string;
}

export interface FleetBench {
  readonly fleetSize: number;
  readonly candidates: number;
  readonly safe: number;
  readonly inUse: number;
  readonly runs: readonly FleetRun[];
}

/** Runs ours (report-only, then upgrade with the largest cap) and the runbook model, each on a freshly seeded fleet. */
export async function fleetBench(fleetSize: number): Promise<FleetBench> {
  const ec2 = await Ec2Emulator.start();
  const cloudwatch = await CloudWatchEmulator.start();
  // The interval claim (Parameter Store) and the Auto Scaling report: counted apart from EC2 and CloudWatch.
  const ssm = await SsmEmulator.start();
  const autoscaling = await AutoScalingEmulator.start();
  // The run's findings (its summary event) go to the account's default bus, as in Lambda.
  const eventbridge = await EventBridgeEmulator.start();
  const certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imds-bench-fleet-'));
  try {
    const caFile = makeCertificate(certDir).certFile;
    const reseed = (): Fleet => {
      ec2.clearFleet(REGION);
      cloudwatch.clearMetrics(REGION);
      for (const name of ssm.parameters(REGION).keys()) {
        ssm.deleteParameter(REGION, name);
      }
      return seedFleet(ec2, cloudwatch, REGION, { count: fleetSize });
    };
    const count = () => {
      const calls = { ec2: ec2.requests.length, cloudwatch: cloudwatch.requests.length };
      ec2.requests.length = 0;
      cloudwatch.requests.length = 0;
      return calls;
    };
    const upgradedOf = (fleet: Fleet) => {
      const now = new Set(ec2.instances(REGION).filter((i) => i.MetadataOptions.HttpTokens === 'required').map((i) => i.InstanceId));
      const upgraded = fleet.candidates.filter((id) => now.has(id));
      return { upgraded: upgraded.length, upgradedWhileInUse: upgraded.filter((id) => fleet.inUse.includes(id)).length };
    };

    const runs: FleetRun[] = [];
    let fleet = reseed();
    const summary = { candidates: fleet.candidates.length, safe: fleet.safe.length, inUse: fleet.inUse.length };

    for (const mode of [InstanceUpgradeMode.REPORT_ONLY, InstanceUpgradeMode.UPGRADE]) {
      fleet = reseed();
      count();
      const endpoints = {
        ec2: ec2.endpoint,
        cloudwatch: cloudwatch.endpoint,
        ssm: ssm.endpoint,
        autoScaling: autoscaling.endpoint,
        eventBridge: eventbridge.endpoint,
        caFile,
      };
      const invocation = await runOurs(mode, endpoints);
      const calls = count();
      if (invocation.outcome !== 'returned') {
        throw new Error(`bench: ImdsInstanceUpgrade (${mode}) ended ${invocation.outcome}: ${invocation.error}\n${invocation.logs.slice(-2000)}`);
      }
      runs.push({
        who: `ImdsInstanceUpgrade, ${mode === InstanceUpgradeMode.UPGRADE ? 'UPGRADE (cap 1000)' : 'REPORT_ONLY'}`,
        ms: Math.round(invocation.handlerMs ?? 0),
        ec2Calls: calls.ec2,
        cloudwatchCalls: calls.cloudwatch,
        ...upgradedOf(fleet),
        note: mode === InstanceUpgradeMode.UPGRADE ? 'safe instances only' : 'changes nothing',
      });
    }

    fleet = reseed();
    count();
    const started = performance.now();
    await runbookModel(ec2.endpoint);
    const ms = Math.round(performance.now() - started);
    const calls = count();
    runs.push({
      who: 'AWSConfigRemediation-EnforceEC2InstanceIMDSv2 (model)',
      ms,
      ec2Calls: calls.ec2,
      cloudwatchCalls: calls.cloudwatch,
      ...upgradedOf(fleet),
      note: 'every instance that allows IMDSv1',
    });
    return { fleetSize, ...summary, runs };
  } finally {
    killAll();
    await ec2.stop();
    await cloudwatch.stop();
    await ssm.stop();
    await autoscaling.stop();
    await eventbridge.stop();
    fs.rmSync(certDir, { recursive: true, force: true });
  }
}

/** One scheduled run of the shipped function (its template's ZipFile and environment), as Lambda runs it. */
async function runOurs(
  mode: InstanceUpgradeMode, endpoints: { ec2: string; cloudwatch: string; ssm: string; autoScaling: string; eventBridge: string; caFile: string },
): Promise<Invocation> {
  const t = synthesize((stack) => new ImdsInstanceUpgrade(stack, 'Upgrade', { mode, maxUpgradesPerRun: 1000, lookback: Duration.days(14) }));
  const stackId = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/ImdsBench/${crypto.randomUUID()}`;
  const functionLogicalId = t.resourceOf('Custom::ImdsInstanceUpgrade').functionLogicalId;
  const fn = functionConfig(t, functionLogicalId, { account: ACCOUNT, region: REGION, stackName: 'ImdsBench', stackId, parameters: {} });
  const unused = 'http://127.0.0.1:9'; // CloudFormation: a scheduled run never calls it
  return invoke({
    fn,
    event: scheduledEvent({ account: ACCOUNT, region: REGION, ruleArn: `arn:aws:events:${REGION}:${ACCOUNT}:rule/ImdsBench-Schedule` }),
    requestId: crypto.randomUUID(),
    region: REGION,
    sdk: 'current',
    ec2Endpoint: endpoints.ec2,
    ssmEndpoint: endpoints.ssm,
    cloudFormationEndpoint: unused,
    cloudWatchEndpoint: endpoints.cloudwatch,
    autoScalingEndpoint: endpoints.autoScaling,
    eventBridgeEndpoint: endpoints.eventBridge,
    caFile: endpoints.caFile,
  });
}

/** The runbook, modelled: list the instances that allow IMDSv1, then Modify and verify each, one at a time. */
async function runbookModel(endpoint: string): Promise<void> {
  const { EC2Client, DescribeInstancesCommand, ModifyInstanceMetadataOptionsCommand } = loadSdkClient('current', 'client-ec2');
  const client = new EC2Client({
    region: REGION,
    endpoint,
    credentials: { ...TEST_CREDENTIALS, sessionToken: TEST_SESSION_TOKEN },
  });
  const ids: string[] = [];
  let NextToken: string | undefined;
  do {
    const page = await client.send(new DescribeInstancesCommand({
      Filters: [
        { Name: 'metadata-options.http-tokens', Values: ['optional'] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
      MaxResults: 1000,
      NextToken,
    }));
    for (const r of page.Reservations ?? []) {
      for (const i of r.Instances ?? []) {
        ids.push(i.InstanceId);
      }
    }
    NextToken = page.NextToken;
  } while (NextToken);
  for (const InstanceId of ids) {
    await client.send(new ModifyInstanceMetadataOptionsCommand({ InstanceId, HttpTokens: 'required' }));
    await client.send(new DescribeInstancesCommand({ InstanceIds: [InstanceId] }));
  }
  client.destroy();
}
