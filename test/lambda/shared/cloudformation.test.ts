/**
 * What the functions read from CloudFormation (lambda/shared/cloudformation.ts),
 * with CloudFormation mocked by aws-sdk-client-mock: the calls, the fields read,
 * CloudFormation's "does not exist" (ValidationError) as undefined, and every
 * other error thrown.
 */
import {
  CloudFormationClient, DescribeStackResourceCommand, DescribeStacksCommand, ResourceStatus, StackStatus,
} from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { createCloudFormationClient, describeResource, describeStackStatus } from '../../../lambda/shared/cloudformation';
import { MAX_ATTEMPTS } from '../../../lambda/shared/sdk';

const cfn = mockClient(CloudFormationClient);
const STACK_ID = 'arn:aws:cloudformation:eu-west-1:123456789012:stack/app/0c5c6cd0-0000-11ef-0000-000000000000';
const client = new CloudFormationClient({ region: 'eu-west-1' });
const serviceError = (name: string, message: string) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });

beforeEach(() => {
  cfn.reset();
});

test('the client: the shared bounded attempts, standard retries and timeouts', async () => {
  const made = createCloudFormationClient();
  expect(made).toBeInstanceOf(CloudFormationClient);
  expect(await made.config.maxAttempts()).toBe(MAX_ATTEMPTS);
  expect(made.config.retryMode).toBe('standard');
});

describe('describeResource', () => {
  test('asks by StackId and logical id, carries the abort signal, and reads the type, status and physical id', async () => {
    cfn.on(DescribeStackResourceCommand).resolves({
      StackResourceDetail: {
        StackName: 'app',
        LogicalResourceId: 'Imds',
        ResourceType: 'Custom::ImdsAccountDefaults',
        ResourceStatus: ResourceStatus.UPDATE_IN_PROGRESS,
        PhysicalResourceId: 'ImdsAccountDefaults:123456789012:eu-west-1',
        LastUpdatedTimestamp: new Date(0),
      },
    });
    const signal = new AbortController().signal;
    expect(await describeResource(client, STACK_ID, 'Imds', signal)).toEqual({
      resourceType: 'Custom::ImdsAccountDefaults', resourceStatus: 'UPDATE_IN_PROGRESS', physicalResourceId: 'ImdsAccountDefaults:123456789012:eu-west-1',
    });
    expect(cfn).toHaveReceivedCommandTimes(DescribeStackResourceCommand, 1);
    expect(cfn.commandCalls(DescribeStackResourceCommand)[0].args[0].input).toEqual({ StackName: STACK_ID, LogicalResourceId: 'Imds' });
    expect(cfn.commandCalls(DescribeStackResourceCommand)[0].args[1]).toEqual({ abortSignal: signal });
  });

  test('missing fields: type and status "", no physical id (a Create in progress)', async () => {
    cfn.on(DescribeStackResourceCommand).resolves({ StackResourceDetail: { LogicalResourceId: 'Imds' } as never });
    expect(await describeResource(client, STACK_ID, 'Imds', new AbortController().signal)).toEqual({ resourceType: '', resourceStatus: '', physicalResourceId: undefined });
    cfn.on(DescribeStackResourceCommand).resolves({});
    expect(await describeResource(client, STACK_ID, 'Imds', new AbortController().signal)).toEqual({ resourceType: '', resourceStatus: '', physicalResourceId: undefined });
  });

  test('ValidationError (the stack or the resource does not exist): undefined', async () => {
    cfn.on(DescribeStackResourceCommand).rejects(serviceError('ValidationError', `Stack with id ${STACK_ID} does not exist`));
    expect(await describeResource(client, STACK_ID, 'Imds', new AbortController().signal)).toBeUndefined();
  });

  test.each([
    ['Throttling', serviceError('Throttling', 'Rate exceeded')],
    ['AccessDenied', serviceError('AccessDenied', 'no')],
    ['ValidationException (not CloudFormation\'s name)', serviceError('ValidationException', 'does not exist')],
    ['a plain Error', new Error('ValidationError')],
  ])('any other error (%s) is thrown as it is', async (_what, err) => {
    cfn.on(DescribeStackResourceCommand).rejects(err);
    await expect(describeResource(client, STACK_ID, 'Imds', new AbortController().signal)).rejects.toBe(err);
  });
});

describe('describeStackStatus', () => {
  test('asks by StackId, carries the abort signal, and reads the first stack\'s status', async () => {
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [
        { StackName: 'app', StackStatus: StackStatus.ROLLBACK_IN_PROGRESS, CreationTime: new Date(0) },
        { StackName: 'other', StackStatus: StackStatus.CREATE_COMPLETE, CreationTime: new Date(0) },
      ],
    });
    const signal = new AbortController().signal;
    expect(await describeStackStatus(client, STACK_ID, signal)).toBe('ROLLBACK_IN_PROGRESS');
    expect(cfn).toHaveReceivedCommandTimes(DescribeStacksCommand, 1);
    expect(cfn.commandCalls(DescribeStacksCommand)[0].args[0].input).toEqual({ StackName: STACK_ID });
    expect(cfn.commandCalls(DescribeStacksCommand)[0].args[1]).toEqual({ abortSignal: signal });
  });

  test('no stack or no status in the answer: ""', async () => {
    cfn.on(DescribeStacksCommand).resolves({});
    expect(await describeStackStatus(client, STACK_ID, new AbortController().signal)).toBe('');
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [] });
    expect(await describeStackStatus(client, STACK_ID, new AbortController().signal)).toBe('');
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'app' } as never] });
    expect(await describeStackStatus(client, STACK_ID, new AbortController().signal)).toBe('');
  });

  test('ValidationError (the stack does not exist): undefined', async () => {
    cfn.on(DescribeStacksCommand).rejects(serviceError('ValidationError', `Stack with id ${STACK_ID} does not exist`));
    expect(await describeStackStatus(client, STACK_ID, new AbortController().signal)).toBeUndefined();
  });

  test.each([
    ['Throttling', serviceError('Throttling', 'Rate exceeded')],
    ['a plain Error', new Error('ValidationError')],
  ])('any other error (%s) is thrown as it is', async (_what, err) => {
    cfn.on(DescribeStacksCommand).rejects(err);
    await expect(describeStackStatus(client, STACK_ID, new AbortController().signal)).rejects.toBe(err);
  });
});
