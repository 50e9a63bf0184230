/**
 * The fidelity of the local CloudFormation endpoint
 * (test/support/cloudformation-emulator.ts) that the end-to-end suite runs the
 * handler's liveness checks against, checked with the real
 * `@aws-sdk/client-cloudformation`: the current one (the devDependency) and
 * 3.996.0 from the e2e runtime's NODE_PATH root (the oldest the handler meets).
 * Covered: the Query wire format, DescribeStackResource and DescribeStacks
 * answered from the model (by name and by StackId, deleted stacks, removed and
 * retained resources, the statuses a custom resource event is confirmed
 * against), each error code and HTTP status as the SDK surfaces and retries
 * them, SigV4, Region separation, each fault switch, and a held answer.
 */
import * as currentCfn from '@aws-sdk/client-cloudformation';
import { loadSdkClient } from './harness/runtime';
import { CLOUDFORMATION_NAMESPACE, CloudFormationEmulator, TEST_CREDENTIALS, TEST_SESSION_TOKEN } from '../support/cloudformation-emulator';
import { captureRaw, errorOf, tamperAfterSigning } from '../support/sdk-probe';

type CfnModule = typeof currentCfn;

const REGION = 'eu-west-1';
const stackId = (name: string, region = REGION, id = '11111111-2222-3333-4444-555555555555') => `arn:aws:cloudformation:${region}:123456789012:stack/${name}/${id}`;
const APP = stackId('App');
const RESOURCE = { logicalResourceId: 'ImdsDefaults1A2B3C4D', physicalResourceId: `ImdsAccountDefaults:123456789012:${REGION}`, resourceType: 'Custom::ImdsAccountDefaults', resourceStatus: 'CREATE_COMPLETE' };

let emulator: CloudFormationEmulator;

// A fresh model for each test.
beforeEach(async () => {
  emulator = await CloudFormationEmulator.start();
});
afterEach(async () => {
  await emulator.stop();
});

const SDKS: Array<[string, () => CfnModule]> = [
  ['current', () => currentCfn],
  ['3.996.0', () => loadSdkClient<CfnModule>('3.996.0', 'client-cloudformation')],
];

describe.each(SDKS)('with client-cloudformation %s', (sdkName, load) => {
  let sdk: CfnModule;

  beforeAll(() => {
    sdk = load();
    if (sdkName !== 'current') {
      // Really the runtime's copy, not the project's.
      expect(sdk.CloudFormationClient).not.toBe(currentCfn.CloudFormationClient);
    }
  });
  beforeEach(() => {
    emulator.putStack({ stackId: APP, stackName: 'App', stackStatus: 'CREATE_COMPLETE' });
    emulator.putResource(APP, RESOURCE);
  });

  /** A client of the emulator; `raw` receives the last HTTP response as CloudFormation sent it. */
  interface ClientOptions {
    region?: string;
    maxAttempts?: number;
    secret?: string;
    accessKeyId?: string;
    sessionToken?: string;
    requestTimeout?: number;
  }

  function client(options: ClientOptions = {}) {
    const c = new sdk.CloudFormationClient({
      region: options.region ?? REGION,
      endpoint: emulator.endpoint,
      credentials: {
        accessKeyId: options.accessKeyId ?? TEST_CREDENTIALS.accessKeyId,
        secretAccessKey: options.secret ?? TEST_CREDENTIALS.secretAccessKey,
        sessionToken: options.sessionToken,
      },
      maxAttempts: options.maxAttempts ?? 1,
      requestHandler: { requestTimeout: options.requestTimeout ?? 5_000, throwOnRequestTimeout: true },
    });
    return { c, raw: captureRaw(c) };
  }

  const describe1 = (c: currentCfn.CloudFormationClient, stackName: string, logicalResourceId: string) =>
    c.send(new sdk.DescribeStackResourceCommand({ StackName: stackName, LogicalResourceId: logicalResourceId }));
  const describeStacks = (c: currentCfn.CloudFormationClient, stackName?: string) =>
    c.send(new sdk.DescribeStacksCommand(stackName === undefined ? {} : { StackName: stackName }));

  test('the wire format: a signed form-encoded POST of Action and Version, answered with indented XML in the CloudFormation namespace', async () => {
    const { c, raw } = client();
    const out = await describe1(c, APP, RESOURCE.logicalResourceId);
    expect(emulator.requests).toEqual([{
      action: 'DescribeStackResource',
      region: REGION,
      params: { Action: 'DescribeStackResource', Version: '2010-05-15', StackName: APP, LogicalResourceId: RESOURCE.logicalResourceId },
    }]);
    expect(raw).toMatchObject({ status: 200, contentType: 'text/xml' });
    expect(raw.body).toMatch(new RegExp(`^<DescribeStackResourceResponse xmlns="${CLOUDFORMATION_NAMESPACE}">\\n  <DescribeStackResourceResult>\\n    <StackResourceDetail>\\n      <StackId>`));
    expect(raw.body).toContain(`<ResponseMetadata>\n    <RequestId>${out.$metadata.requestId}</RequestId>\n  </ResponseMetadata>`);
    expect(out.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.StackResourceDetail).toEqual({
      StackName: 'App',
      StackId: APP,
      LogicalResourceId: RESOURCE.logicalResourceId,
      PhysicalResourceId: RESOURCE.physicalResourceId,
      ResourceType: 'Custom::ImdsAccountDefaults',
      ResourceStatus: 'CREATE_COMPLETE',
      LastUpdatedTimestamp: expect.any(Date),
      DriftInformation: { StackResourceDriftStatus: 'NOT_CHECKED' },
    });
  });

  test('a stack is found by name or by StackId; LastUpdatedTimestamp and the status follow the model', async () => {
    const { c } = client();
    const before = Date.now();
    emulator.setResourceStatus(APP, RESOURCE.logicalResourceId, 'UPDATE_COMPLETE');
    const byName = await describe1(c, 'App', RESOURCE.logicalResourceId);
    expect(byName.StackResourceDetail).toMatchObject({ StackId: APP, StackName: 'App', ResourceStatus: 'UPDATE_COMPLETE' });
    expect(byName.StackResourceDetail!.LastUpdatedTimestamp!.getTime()).toBeGreaterThanOrEqual(before - 1);

    // No PhysicalResourceId before the resource has one (e.g. CREATE_IN_PROGRESS).
    emulator.putResource(APP, { logicalResourceId: 'Pending', resourceType: 'AWS::SSM::Parameter', resourceStatus: 'CREATE_IN_PROGRESS' });
    const pending = await describe1(c, APP, 'Pending');
    expect(pending.StackResourceDetail).toMatchObject({ LogicalResourceId: 'Pending', ResourceStatus: 'CREATE_IN_PROGRESS' });
    expect(pending.StackResourceDetail!.PhysicalResourceId).toBeUndefined();
  });

  test('unknown stacks and resources are ValidationError 400 with CloudFormation\'s messages', async () => {
    const { c, raw } = client();
    const noStack = await errorOf(describe1(c, 'Nope', RESOURCE.logicalResourceId));
    expect(noStack).toMatchObject({ name: 'ValidationError', status: 400, fault: 'client', message: 'Stack with id Nope does not exist', requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(raw.body).toBe(`<ErrorResponse xmlns="${CLOUDFORMATION_NAMESPACE}">
  <Error>
    <Type>Sender</Type>
    <Code>ValidationError</Code>
    <Message>Stack with id Nope does not exist</Message>
  </Error>
  <RequestId>${noStack.requestId}</RequestId>
</ErrorResponse>
`);
    const other = stackId('App', REGION, '99999999-2222-3333-4444-555555555555');
    expect(await errorOf(describe1(c, other, RESOURCE.logicalResourceId))).toMatchObject({ name: 'ValidationError', message: `Stack with id ${other} does not exist` });
    expect(await errorOf(describe1(c, APP, 'Other'))).toMatchObject({ name: 'ValidationError', status: 400, message: `Resource Other does not exist for stack ${APP}` });
    expect(await errorOf(describe1(c, 'App', 'Other'))).toMatchObject({ name: 'ValidationError', message: 'Resource Other does not exist for stack App' });

    // A resource taken out of the template is no longer there.
    emulator.removeResource(APP, RESOURCE.logicalResourceId);
    expect(await errorOf(describe1(c, APP, RESOURCE.logicalResourceId))).toMatchObject({ name: 'ValidationError', message: `Resource ${RESOURCE.logicalResourceId} does not exist for stack ${APP}` });
  });

  test('a deleted stack is describable by StackId only, with the statuses its resources ended with (DELETE_COMPLETE, DELETE_SKIPPED when retained)', async () => {
    const { c } = client();
    emulator.putResource(APP, { ...RESOURCE, logicalResourceId: 'Retained', resourceType: 'AWS::S3::Bucket', physicalResourceId: 'bucket' });
    emulator.setResourceStatus(APP, RESOURCE.logicalResourceId, 'DELETE_COMPLETE');
    emulator.setResourceStatus(APP, 'Retained', 'DELETE_SKIPPED');
    emulator.setStackStatus(APP, 'DELETE_COMPLETE');
    expect((await describe1(c, APP, RESOURCE.logicalResourceId)).StackResourceDetail).toMatchObject({ StackName: 'App', ResourceStatus: 'DELETE_COMPLETE' });
    expect((await describe1(c, APP, 'Retained')).StackResourceDetail).toMatchObject({ ResourceStatus: 'DELETE_SKIPPED' });
    expect(await errorOf(describe1(c, 'App', RESOURCE.logicalResourceId))).toMatchObject({ name: 'ValidationError', message: 'Stack with id App does not exist' });

    // A new stack of the same name: the name finds it, the old StackId still finds the old one.
    const again = stackId('App', REGION, '22222222-2222-3333-4444-555555555555');
    emulator.putStack({ stackId: again, stackName: 'App', stackStatus: 'CREATE_IN_PROGRESS' });
    emulator.putResource(again, { ...RESOURCE, resourceStatus: 'CREATE_IN_PROGRESS' });
    expect((await describe1(c, 'App', RESOURCE.logicalResourceId)).StackResourceDetail).toMatchObject({ StackId: again, ResourceStatus: 'CREATE_IN_PROGRESS' });
    expect((await describe1(c, APP, RESOURCE.logicalResourceId)).StackResourceDetail).toMatchObject({ StackId: APP, ResourceStatus: 'DELETE_COMPLETE' });
  });

  test('stacks are per Region: the Region of the StackId, seen from the credential scope of the signature', async () => {
    const east = stackId('App', 'us-east-1');
    emulator.putStack({ stackId: east, stackName: 'App', stackStatus: 'UPDATE_COMPLETE' });
    emulator.putResource(east, { ...RESOURCE, resourceStatus: 'UPDATE_COMPLETE' });
    expect((await describe1(client({ region: 'us-east-1' }).c, 'App', RESOURCE.logicalResourceId)).StackResourceDetail).toMatchObject({ StackId: east, ResourceStatus: 'UPDATE_COMPLETE' });
    expect((await describe1(client().c, 'App', RESOURCE.logicalResourceId)).StackResourceDetail).toMatchObject({ StackId: APP, ResourceStatus: 'CREATE_COMPLETE' });
    expect(await errorOf(describe1(client({ region: 'us-east-1' }).c, APP, RESOURCE.logicalResourceId))).toMatchObject({ name: 'ValidationError', message: `Stack with id ${APP} does not exist` });
    expect(emulator.requests.map((r) => r.region)).toEqual(['us-east-1', REGION, 'us-east-1']);
  });

  test('the model refuses what CloudFormation would never report', () => {
    expect(() => emulator.putStack({ stackId: 'App', stackName: 'App', stackStatus: 'CREATE_COMPLETE' })).toThrow(/ARN/);
    expect(() => emulator.setStackStatus(APP, 'DELETED')).toThrow(/not a CloudFormation stack status/);
    expect(() => emulator.setResourceStatus(APP, RESOURCE.logicalResourceId, 'RETAINED')).toThrow(/not a CloudFormation resource status/);
    expect(() => emulator.setResourceStatus(APP, 'Nope', 'DELETE_COMPLETE')).toThrow(/no resource Nope/);
    expect(() => emulator.putResource(stackId('Unknown'), RESOURCE)).toThrow(/putStack it first/);
  });

  test.each([
    // code, HTTP status, error type, retried by the SDK's standard strategy
    ['Throttling', 400, 'Sender', true],
    ['InternalFailure', 500, 'Receiver', true],
    ['AccessDenied', 403, 'Sender', false],
  ])('the %s switch answers HTTP %d (%s; retried by the SDK: %s)', async (code, status, type, retried) => {
    const { c, raw } = client();
    emulator.injectFault({ code: code as string, times: 1 });
    const error = await errorOf(describe1(c, APP, RESOURCE.logicalResourceId));
    expect(error).toMatchObject({ name: code, status, fault: status >= 500 ? 'server' : 'client', requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(raw.body).toMatch(new RegExp(`<Error>\\s*<Type>${type}</Type>\\s*<Code>${code}</Code>\\s*<Message>[^<]+</Message>\\s*</Error>\\s*<RequestId>${error.requestId}</RequestId>`));
    if (code === 'AccessDenied') {
      expect(error.message).toBe('User: arn:aws:sts::123456789012:assumed-role/ImdsRole/ImdsHandler is not authorized to perform: cloudformation:DescribeStackResource '
        + `on resource: ${APP} because no identity-based policy allows the cloudformation:DescribeStackResource action`);
    }
    if (code === 'Throttling') {
      expect(error.message).toBe('Rate exceeded');
    }

    emulator.requests.length = 0;
    emulator.injectFault({ code: code as string, times: 1 });
    const second = describe1(client({ maxAttempts: 2 }).c, APP, RESOURCE.logicalResourceId);
    if (retried) {
      await expect(second).resolves.toMatchObject({ StackResourceDetail: { ResourceStatus: 'CREATE_COMPLETE' } });
    } else {
      await expect(second).rejects.toMatchObject({ name: code });
    }
    expect(emulator.requests).toHaveLength(retried ? 2 : 1);
  });

  test('a fault can target an action, a number of requests, and start after some', async () => {
    const { c } = client();
    const served = emulator.faultsServed;
    emulator.injectFault({ code: 'Throttling', times: 2, action: 'DescribeStackResource', after: 1 });
    await expect(describe1(c, APP, RESOURCE.logicalResourceId)).resolves.toBeDefined();
    expect(await errorOf(describe1(c, APP, RESOURCE.logicalResourceId))).toMatchObject({ name: 'Throttling' });
    expect(await errorOf(describe1(c, 'App', 'Nope'))).toMatchObject({ name: 'Throttling' });
    expect(await errorOf(describe1(c, 'App', 'Nope'))).toMatchObject({ name: 'ValidationError' });
    expect(emulator.requests.map((r) => r.fault)).toEqual([undefined, 'Throttling', 'Throttling', undefined]);
    expect(emulator.faultsServed - served).toBe(2);

    emulator.injectFault({ code: 'AccessDenied', times: 1, action: 'DescribeStacks' });
    await expect(describe1(c, APP, RESOURCE.logicalResourceId)).resolves.toBeDefined();
    expect(await errorOf(describeStacks(c, APP))).toMatchObject({ name: 'AccessDenied', status: 403, message: expect.stringContaining(`cloudformation:DescribeStacks on resource: ${APP}`) });
    await expect(describeStacks(c, APP)).resolves.toBeDefined();
    emulator.clearFaults();
    emulator.injectFault({ code: 'AccessDenied', times: 3 });
    emulator.clearFaults();
    await expect(describe1(c, APP, RESOURCE.logicalResourceId)).resolves.toBeDefined();
  });

  test('SigV4: a missing signature, a wrong secret or key, an unknown session token and a body changed after signing are refused as CloudFormation does (403)', async () => {
    const call = (c: currentCfn.CloudFormationClient) => describe1(c, APP, RESOURCE.logicalResourceId);
    expect(await errorOf(call(client({ secret: 'wrong' }).c))).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
    expect(await errorOf(call(client({ accessKeyId: 'AKIDSOMEONEELSE' }).c))).toMatchObject({ name: 'InvalidClientTokenId', status: 403 });
    expect(await errorOf(call(client({ sessionToken: 'stolen' }).c))).toMatchObject({ name: 'InvalidClientTokenId', status: 403 });
    await expect(call(client({ sessionToken: TEST_SESSION_TOKEN }).c)).resolves.toBeDefined();

    const { c } = client();
    let tampered = 0;
    tamperAfterSigning(c, (body) => {
      tampered += body.includes('LogicalResourceId=ImdsDefaults') ? 1 : 0;
      return body.replace('LogicalResourceId=ImdsDefaults', 'LogicalResourceId=OtherDefault');
    });
    expect(await errorOf(call(c))).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
    expect(tampered).toBe(1);
    // Refused before it reached an action: only the request with the known session token was recorded.
    expect(emulator.requests).toHaveLength(1);

    const unsigned = await fetch(emulator.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `Action=DescribeStackResource&Version=2010-05-15&StackName=App&LogicalResourceId=${RESOURCE.logicalResourceId}`,
    });
    expect(unsigned.status).toBe(403);
    expect(await unsigned.text()).toMatch(/<Code>MissingAuthenticationToken<\/Code>/);
  });

  test('DescribeStacks: the wire format, and the stack by StackId or name with its status and times', async () => {
    const { c, raw } = client();
    const out = await describeStacks(c, APP);
    expect(emulator.requests).toEqual([{ action: 'DescribeStacks', region: REGION, params: { Action: 'DescribeStacks', Version: '2010-05-15', StackName: APP } }]);
    expect(raw).toMatchObject({ status: 200, contentType: 'text/xml' });
    expect(raw.body).toMatch(new RegExp(`^<DescribeStacksResponse xmlns="${CLOUDFORMATION_NAMESPACE}">\\n  <DescribeStacksResult>\\n    <Stacks>\\n      <member>\\n        <StackId>`));
    expect(raw.body).toContain(`<ResponseMetadata>\n    <RequestId>${out.$metadata.requestId}</RequestId>\n  </ResponseMetadata>`);
    expect(out.Stacks).toEqual([{
      StackId: APP,
      StackName: 'App',
      CreationTime: expect.any(Date),
      StackStatus: 'CREATE_COMPLETE',
      DisableRollback: false,
      NotificationARNs: [],
      Tags: [],
      RollbackConfiguration: {},
      EnableTerminationProtection: false,
      DriftInformation: { StackDriftStatus: 'NOT_CHECKED' },
    }]);
    expect(out.NextToken).toBeUndefined();

    // An update: LastUpdatedTime appears, CreationTime stays; the name finds the same stack.
    const created = out.Stacks![0].CreationTime!.getTime();
    for (const status of ['UPDATE_IN_PROGRESS', 'UPDATE_ROLLBACK_IN_PROGRESS', 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS']) {
      emulator.setStackStatus(APP, status);
      const [byName] = (await describeStacks(c, 'App')).Stacks!;
      expect(byName).toMatchObject({ StackId: APP, StackStatus: status, LastUpdatedTime: expect.any(Date) });
      expect(byName.CreationTime!.getTime()).toBe(created);
    }
  });

  test('DescribeStacks: a deleted stack by StackId only (DELETE_COMPLETE, DeletionTime), an unknown one is ValidationError, no StackName lists the live stacks of the Region', async () => {
    const { c, raw } = client();
    const other = stackId('Other', REGION, '33333333-2222-3333-4444-555555555555');
    emulator.putStack({ stackId: other, stackName: 'Other', stackStatus: 'ROLLBACK_IN_PROGRESS' });
    emulator.putStack({ stackId: stackId('East', 'us-east-1'), stackName: 'East', stackStatus: 'CREATE_COMPLETE' });
    expect((await describeStacks(c)).Stacks!.map((s) => [s.StackName, s.StackStatus])).toEqual([['App', 'CREATE_COMPLETE'], ['Other', 'ROLLBACK_IN_PROGRESS']]);

    emulator.setStackStatus(APP, 'DELETE_COMPLETE');
    const [deleted] = (await describeStacks(c, APP)).Stacks!;
    expect(deleted).toMatchObject({ StackId: APP, StackStatus: 'DELETE_COMPLETE', DeletionTime: expect.any(Date) });
    const noName = await errorOf(describeStacks(c, 'App'));
    expect(noName).toMatchObject({ name: 'ValidationError', status: 400, fault: 'client', message: 'Stack with id App does not exist' });
    expect(raw.body).toBe(`<ErrorResponse xmlns="${CLOUDFORMATION_NAMESPACE}">
  <Error>
    <Type>Sender</Type>
    <Code>ValidationError</Code>
    <Message>Stack with id App does not exist</Message>
  </Error>
  <RequestId>${noName.requestId}</RequestId>
</ErrorResponse>
`);
    const unknown = stackId('App', REGION, '99999999-2222-3333-4444-555555555555');
    expect(await errorOf(describeStacks(c, unknown))).toMatchObject({ name: 'ValidationError', message: `Stack with id ${unknown} does not exist` });
    // Another Region's stack is not seen from this one.
    expect(await errorOf(describeStacks(c, 'East'))).toMatchObject({ name: 'ValidationError', message: 'Stack with id East does not exist' });
    expect((await describeStacks(c)).Stacks!.map((s) => s.StackName)).toEqual(['Other']);
  });

  test('what a custom resource event is confirmed against: the resource\'s type, status and physical id, and the stack\'s status, at each moment', async () => {
    const { c } = client();
    const seen = async () => {
      const [resource, stacks] = [await describe1(c, APP, 'Imds'), await describeStacks(c, APP)];
      const d = resource.StackResourceDetail!;
      return [stacks.Stacks![0].StackStatus, d.ResourceType, d.ResourceStatus, d.PhysicalResourceId];
    };
    emulator.putResource(APP, { logicalResourceId: 'Imds', resourceType: 'Custom::ImdsAccountDefaults', resourceStatus: 'CREATE_IN_PROGRESS' });
    emulator.setStackStatus(APP, 'CREATE_IN_PROGRESS');
    expect(await seen()).toEqual(['CREATE_IN_PROGRESS', 'Custom::ImdsAccountDefaults', 'CREATE_IN_PROGRESS', undefined]);
    const marker = 'ImdsAccountDefaults:create-failed:00000000-0000-4000-8000-000000000001';
    emulator.putResource(APP, { logicalResourceId: 'Imds', physicalResourceId: marker, resourceType: 'Custom::ImdsAccountDefaults', resourceStatus: 'CREATE_FAILED' });
    emulator.setStackStatus(APP, 'ROLLBACK_IN_PROGRESS');
    emulator.setResourceStatus(APP, 'Imds', 'DELETE_IN_PROGRESS');
    expect(await seen()).toEqual(['ROLLBACK_IN_PROGRESS', 'Custom::ImdsAccountDefaults', 'DELETE_IN_PROGRESS', marker]);
  });

  test('a held answer: computed when the request arrives, sent after the hook has run', async () => {
    const { c } = client();
    const order: string[] = [];
    const held = emulator.holdAnswer((r) => r.action === 'DescribeStacks', async () => {
      order.push('hook');
      // The model changes while the answer is held: the held answer does not.
      emulator.setStackStatus(APP, 'DELETE_IN_PROGRESS');
      await new Promise((resolve) => setTimeout(resolve, 50));
    });
    // Not the matching action: answered at once.
    await describe1(c, APP, RESOURCE.logicalResourceId);
    const out = await describeStacks(c, APP);
    order.push('answered');
    await held;
    expect(order).toEqual(['hook', 'answered']);
    expect(out.Stacks![0].StackStatus).toBe('CREATE_COMPLETE');
    expect((await describeStacks(c, APP)).Stacks![0].StackStatus).toBe('DELETE_IN_PROGRESS');

    // A failing hook: the request is still answered, the promise carries the error.
    const failing = emulator.holdAnswer(() => true, async () => {
      throw new Error('boom');
    }).then(() => 'settled', (err: Error) => err.message);
    await expect(describeStacks(c, APP)).resolves.toBeDefined();
    expect(await failing).toBe('boom');
  });

  test('an action it does not emulate is InvalidAction 400, as CloudFormation answers an unknown operation', async () => {
    const { c, raw } = client();
    expect(await errorOf(c.send(new sdk.ListStacksCommand({})))).toMatchObject({
      name: 'InvalidAction', status: 400, message: 'Could not find operation ListStacks for version 2010-05-15',
    });
    expect(raw.body).toMatch(/<Type>Sender<\/Type>/);
    expect(emulator.requests).toEqual([]);
  });

  test('the hang switch holds requests unanswered until the client gives up', async () => {
    emulator.hang = true;
    const started = Date.now();
    const held = emulator.requestsHeld;
    expect(await errorOf(describe1(client({ requestTimeout: 300 }).c, APP, RESOURCE.logicalResourceId))).toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(emulator.requestsHeld - held).toBe(1);
  });
});
