/**
 * The local EC2, SSM, CloudFormation, Auto Scaling (the readiness check's
 * DescribeLaunchConfigurations) and EventBridge (the findings) emulators and the ResponseURL endpoint,
 * with the environment that points the real clients at them, for the handler
 * tests that run the real @aws-sdk clients (index.emulator.test.ts,
 * ownership.budget.test.ts).
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { REGION, answerOf as answerOfEvent, captureLogs } from '.';
import { IN_PROGRESS } from './cloudformation';
import { AutoScalingEmulator } from '../../support/autoscaling-emulator';
import { CloudFormationEmulator } from '../../support/cloudformation-emulator';
import { Ec2Emulator, TEST_CREDENTIALS } from '../../support/ec2-emulator';
import { EventBridgeEmulator } from '../../support/eventbridge-emulator';
import { ResponseEndpoint } from '../../support/response-endpoint';
import { SsmEmulator } from '../../support/ssm-emulator';

export type HandlerModule = typeof import('../../../lambda/account-defaults/index');

export interface Emulators {
  ec2: Ec2Emulator;
  ssm: SsmEmulator;
  cfn: CloudFormationEmulator;
  autoScaling: AutoScalingEmulator;
  eventBridge: EventBridgeEmulator;
  endpoint: ResponseEndpoint;
}

/** Loads the handler afresh (its clients are made on first use) with the given client-ec2 package. */
export function loadHandler(sdk = '@aws-sdk/client-ec2'): HandlerModule {
  let mod: HandlerModule | undefined;
  jest.isolateModules(() => {
    jest.doMock('@aws-sdk/client-ec2', () => jest.requireActual(sdk));
    // A fresh copy of the module, with the client-ec2 mocked above (import() would share the registry).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require('../../../lambda/account-defaults/index');
  });
  return mod!;
}

/**
 * Starts the emulators before the file's tests and stops them after; resets
 * their faults, hangs, parameters and EC2 state before each test. The returned
 * object is filled in by beforeAll.
 */
export function useEmulators(): Emulators {
  const emulators = {} as Emulators;
  const env = { ...process.env };
  beforeAll(async () => {
    [emulators.ec2, emulators.ssm, emulators.cfn, emulators.autoScaling, emulators.eventBridge, emulators.endpoint] = await Promise.all([
      Ec2Emulator.start(), SsmEmulator.start(), CloudFormationEmulator.start(), AutoScalingEmulator.start(),
      EventBridgeEmulator.start(), ResponseEndpoint.start(),
    ]);
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_EC2: emulators.ec2.endpoint,
      AWS_ENDPOINT_URL_SSM: emulators.ssm.endpoint,
      AWS_ENDPOINT_URL_CLOUDFORMATION: emulators.cfn.endpoint,
      AWS_ENDPOINT_URL_AUTO_SCALING: emulators.autoScaling.endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: emulators.eventBridge.endpoint,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    });
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    captureLogs();
  });
  afterAll(async () => {
    process.env = env;
    const { ec2, ssm, cfn, autoScaling, eventBridge, endpoint } = emulators;
    await Promise.all([ec2.stop(), ssm.stop(), cfn.stop(), autoScaling.stop(), eventBridge.stop(), endpoint.stop()]);
  });
  beforeEach(() => {
    const { ec2, ssm, cfn, autoScaling, eventBridge } = emulators;
    eventBridge.clearEvents();
    for (const e of [ec2, ssm, cfn, autoScaling, eventBridge]) {
      e.requests.length = 0;
      e.clearFaults();
      e.hang = false;
    }
    for (const name of ssm.parameters(REGION).keys()) {
      ssm.deleteParameter(REGION, name);
    }
    ec2.knowsHttpTokensEnforced = true;
    ec2.clearFleet(REGION);
    autoScaling.clearLaunchConfigurations(REGION);
    ec2.setState(REGION, { HttpEndpoint: 'enabled' });
  });
  return emulators;
}

/**
 * Records the event's stack and resource in the CloudFormation emulator as
 * CloudFormation shows them while it waits for the answer (the handler confirms
 * its events: lambda/shared/confirm.ts). `stackStatus`: the stack's status
 * (a rollback: ROLLBACK_IN_PROGRESS); by default the RequestType's *_IN_PROGRESS.
 */
export function cloudFormationWaitsFor(cfn: CloudFormationEmulator, event: CloudFormationCustomResourceEvent, stackStatus?: string): void {
  cfn.putStack({ stackId: event.StackId, stackName: event.StackId.split('/')[1], stackStatus: stackStatus ?? IN_PROGRESS[event.RequestType] });
  cfn.putResource(event.StackId, {
    logicalResourceId: event.LogicalResourceId,
    resourceType: event.ResourceType,
    resourceStatus: IN_PROGRESS[event.RequestType],
    physicalResourceId: event.RequestType === 'Create' ? undefined : event.PhysicalResourceId,
  });
}

/** Runs one event through `handler` to its single answer at the emulators' ResponseURL endpoint, CloudFormation waiting for it. */
export function answerOf(
  emulators: Emulators, handler: HandlerModule['handler'], event: Parameters<HandlerModule['handler']>[0], timeoutMs?: number,
) {
  cloudFormationWaitsFor(emulators.cfn, event);
  return answerOfEvent(handler, emulators.endpoint, event, timeoutMs);
}
