/**
 * What each Auto Scaling group launches and whether that allows IMDSv1
 * (lambda/shared/auto-scaling.ts): with the real clients against the local
 * Auto Scaling and EC2 endpoints (paging, mixed instances policies, version
 * aliases as EC2 answers them), and with aws-sdk-client-mock for the failures
 * and the time bound.
 */
import {
  AutoScalingClient,
  AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  DescribeLaunchConfigurationsCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeLaunchTemplateVersionsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import {
  CONFIGURATION_NAMES_PER_CALL,
  GROUP_PAGE_SIZE,
  GroupLaunchPath,
  describeGroupLaunchPaths,
  imdsv1Of,
  sourcesOf,
  worstImdsv1,
} from '../../../lambda/shared/auto-scaling';
import { AutoScalingEmulator } from '../../support/autoscaling-emulator';
import { Ec2Emulator, TEST_CREDENTIALS } from '../../support/ec2-emulator';
import { captureLogs } from '../support';

const REGION = 'eu-west-1';
const signal = new AbortController().signal;
const later = () => Date.now() + 60_000;
/** A page of groups with only the fields a test needs (the SDK's type requires every field Auto Scaling always sends). */
const page = (groups: object[], NextToken?: string) => ({ AutoScalingGroups: groups as AutoScalingGroup[], ...(NextToken ? { NextToken } : {}) });
const byName = (groups: readonly GroupLaunchPath[]) => Object.fromEntries(groups.map((g) => [g.groupName, g]));

beforeAll(() => {
  captureLogs();
});

describe('against the local endpoints, with the real clients', () => {
  let asg: AutoScalingEmulator;
  let ec2: Ec2Emulator;
  let clients: { autoScaling: AutoScalingClient; ec2: EC2Client };

  beforeAll(async () => {
    [asg, ec2] = await Promise.all([AutoScalingEmulator.start(), Ec2Emulator.start()]);
    const common = { region: REGION, credentials: TEST_CREDENTIALS, maxAttempts: 1 };
    clients = {
      autoScaling: new AutoScalingClient({ ...common, endpoint: asg.endpoint }),
      ec2: new EC2Client({ ...common, endpoint: ec2.endpoint }),
    };
  });
  afterAll(async () => {
    await Promise.all([asg.stop(), ec2.stop()]);
  });
  beforeEach(() => {
    asg.requests.length = 0;
    ec2.requests.length = 0;
    asg.clearFaults();
    asg.clearAutoScalingGroups(REGION);
    asg.clearLaunchConfigurations(REGION);
    ec2.clearFleet(REGION);
  });

  test('a fleet: each kind of source, version aliases and numbers, instances', async () => {
    // Version 1 optional (the default), 2 required, 3 without MetadataOptions ($Latest).
    const web = ec2.addLaunchTemplate(REGION, {
      LaunchTemplateName: 'web',
      versions: [{ MetadataOptions: { HttpTokens: 'optional' } }, { MetadataOptions: { HttpTokens: 'required' } }, {}],
    });
    const strict = ec2.addLaunchTemplate(REGION, { LaunchTemplateName: 'strict', versions: [{ MetadataOptions: { HttpTokens: 'required' } }] });
    asg.addLaunchConfiguration(REGION, { LaunchConfigurationName: 'legacy', MetadataOptions: { HttpTokens: 'optional' } });
    asg.addLaunchConfiguration(REGION, { LaunchConfigurationName: 'plain' });
    asg.addAutoScalingGroup(REGION, { AutoScalingGroupName: 'by-default', LaunchTemplate: { LaunchTemplateId: web.LaunchTemplateId, LaunchTemplateName: 'web', Version: '$Default' }, Instances: [{ InstanceId: 'i-0000000000000000a' }] });
    asg.addAutoScalingGroup(REGION, { AutoScalingGroupName: 'pinned-2', LaunchTemplate: { LaunchTemplateId: web.LaunchTemplateId, Version: '2' } });
    asg.addAutoScalingGroup(REGION, { AutoScalingGroupName: 'latest', LaunchTemplate: { LaunchTemplateId: web.LaunchTemplateId, LaunchTemplateName: 'web', Version: '$Latest' } });
    asg.addAutoScalingGroup(REGION, { AutoScalingGroupName: 'lc', LaunchConfigurationName: 'legacy', Instances: [{ InstanceId: 'i-0000000000000000b' }, { InstanceId: 'i-0000000000000000c' }] });
    asg.addAutoScalingGroup(REGION, { AutoScalingGroupName: 'lc-plain', LaunchConfigurationName: 'plain' });
    asg.addAutoScalingGroup(REGION, {
      AutoScalingGroupName: 'mixed',
      MixedInstancesPolicy: {
        LaunchTemplate: {
          LaunchTemplateSpecification: { LaunchTemplateId: strict.LaunchTemplateId, LaunchTemplateName: 'strict', Version: '1' },
          Overrides: [{ InstanceType: 'm5.large' }, { InstanceType: 'm6g.large', LaunchTemplateSpecification: { LaunchTemplateId: web.LaunchTemplateId, LaunchTemplateName: 'web', Version: '1' } }],
        },
      },
    });
    asg.addAutoScalingGroup(REGION, {
      AutoScalingGroupName: 'mixed-strict',
      MixedInstancesPolicy: { LaunchTemplate: { LaunchTemplateSpecification: { LaunchTemplateId: strict.LaunchTemplateId, LaunchTemplateName: 'strict' } } },
    });

    const found = await describeGroupLaunchPaths(clients, signal, later());

    expect(found.complete).toBe(true);
    expect(found.incomplete).toBeUndefined();
    const groups = byName(found.groups);
    expect(found.groups.map((g) => g.groupName)).toEqual(['by-default', 'pinned-2', 'latest', 'lc', 'lc-plain', 'mixed', 'mixed-strict']);
    expect(groups['by-default']).toEqual({
      groupName: 'by-default',
      sources: [{ kind: 'launchTemplate', id: web.LaunchTemplateId, name: 'web', version: '$Default' }],
      imdsv1: 'allowed',
      instanceIds: ['i-0000000000000000a'],
    });
    expect(groups['pinned-2'].imdsv1).toBe('required-tokens');
    expect(groups.latest.imdsv1).toBe('account-default');
    expect(groups.lc).toEqual({ groupName: 'lc', sources: [{ kind: 'launchConfiguration', name: 'legacy' }], imdsv1: 'allowed', instanceIds: ['i-0000000000000000b', 'i-0000000000000000c'] });
    expect(groups['lc-plain'].imdsv1).toBe('account-default');
    expect(groups.mixed.sources).toEqual([
      { kind: 'launchTemplate', id: strict.LaunchTemplateId, name: 'strict', version: '1' },
      { kind: 'launchTemplate', id: web.LaunchTemplateId, name: 'web', version: '1' },
    ]);
    expect(groups.mixed.imdsv1).toBe('allowed');
    // Auto Scaling stores $Default for a specification without a version.
    expect(groups['mixed-strict']).toMatchObject({ sources: [{ kind: 'launchTemplate', version: '$Default' }], imdsv1: 'required-tokens', instanceIds: [] });

    // One DescribeLaunchTemplateVersions per template, with every version the groups name.
    const versionCalls = ec2.requests.filter((r) => r.action === 'DescribeLaunchTemplateVersions');
    expect(versionCalls).toHaveLength(2);
    const webCall = versionCalls.find((r) => r.params.LaunchTemplateId === web.LaunchTemplateId)!;
    expect(Object.entries(webCall.params).filter(([k]) => k.startsWith('LaunchTemplateVersion.')).map(([, v]) => v).sort()).toEqual(['$Default', '$Latest', '1', '2']);
    // Read-only: only Describe actions.
    expect(new Set([...asg.requests, ...ec2.requests].map((r) => r.action))).toEqual(new Set(['DescribeAutoScalingGroups', 'DescribeLaunchConfigurations', 'DescribeLaunchTemplateVersions']));
    expect(asg.requests.filter((r) => r.action === 'DescribeLaunchConfigurations').map((r) => r.params)).toEqual([
      expect.objectContaining({ 'LaunchConfigurationNames.member.1': 'legacy', 'LaunchConfigurationNames.member.2': 'plain', 'MaxRecords': String(CONFIGURATION_NAMES_PER_CALL) }),
    ]);
  });

  test('every page of groups (MaxRecords 100), configurations 50 names a call', async () => {
    for (let i = 0; i < 160; i++) {
      const name = `lc-${String(i).padStart(3, '0')}`;
      asg.addLaunchConfiguration(REGION, { LaunchConfigurationName: name, MetadataOptions: { HttpTokens: i % 2 === 0 ? 'optional' : 'required' } });
      asg.addAutoScalingGroup(REGION, { AutoScalingGroupName: `g-${i}`, LaunchConfigurationName: name });
    }
    const found = await describeGroupLaunchPaths(clients, signal, later());
    expect(found.complete).toBe(true);
    expect(found.groups).toHaveLength(160);
    expect(found.groups.filter((g) => g.imdsv1 === 'allowed')).toHaveLength(80);
    const groupCalls = asg.requests.filter((r) => r.action === 'DescribeAutoScalingGroups');
    expect(groupCalls.map((r) => r.params.MaxRecords)).toEqual([String(GROUP_PAGE_SIZE), String(GROUP_PAGE_SIZE)]);
    expect(groupCalls[0].params.NextToken).toBeUndefined();
    expect(groupCalls[1].params.NextToken).toBeDefined();
    expect(asg.requests.filter((r) => r.action === 'DescribeLaunchConfigurations')).toHaveLength(4);
  });

  test('a deleted launch template: its groups are unknown, the rest is read, and the result says it is incomplete', async () => {
    const ok = ec2.addLaunchTemplate(REGION, { LaunchTemplateName: 'ok', versions: [{ MetadataOptions: { HttpTokens: 'required' } }] });
    asg.addAutoScalingGroup(REGION, { AutoScalingGroupName: 'gone', LaunchTemplate: { LaunchTemplateId: 'lt-0123456789abcdef0', Version: '$Default' } });
    asg.addAutoScalingGroup(REGION, { AutoScalingGroupName: 'ok', LaunchTemplate: { LaunchTemplateId: ok.LaunchTemplateId } });
    const found = await describeGroupLaunchPaths(clients, signal, later());
    expect(byName(found.groups).gone.imdsv1).toBe('unknown');
    expect(byName(found.groups).ok.imdsv1).toBe('required-tokens');
    expect(found.complete).toBe(false);
    expect(found.incomplete).toMatch(/launch templates not read \(lt-0123456789abcdef0: InvalidLaunchTemplateId.NotFound/);
  });

  test('an error listing the groups: what was listed is kept, and the reason given', async () => {
    asg.addAutoScalingGroup(REGION, { AutoScalingGroupName: 'g', LaunchConfigurationName: 'x' });
    asg.injectFault({ code: 'InternalFailure', times: 1, action: 'DescribeAutoScalingGroups' });
    const found = await describeGroupLaunchPaths(clients, signal, later());
    expect(found).toEqual({ groups: [], complete: false, incomplete: expect.stringMatching(/^the groups could not all be listed \(InternalFailure/) });
  });
});

describe('with aws-sdk-client-mock', () => {
  let autoScaling: AwsClientStub<AutoScalingClient>;
  let ec2: AwsClientStub<EC2Client>;
  const clients = () => ({ autoScaling: new AutoScalingClient({ region: REGION }), ec2: new EC2Client({ region: REGION }) });

  beforeAll(() => {
    autoScaling = mockClient(AutoScalingClient);
    ec2 = mockClient(EC2Client);
  });
  afterAll(() => {
    autoScaling.restore();
    ec2.restore();
  });
  beforeEach(() => {
    autoScaling.reset();
    ec2.reset();
    autoScaling.on(DescribeLaunchConfigurationsCommand).resolves({ LaunchConfigurations: [] });
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({ LaunchTemplateVersions: [] });
  });

  test('no groups: complete, nothing else called', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    expect(await describeGroupLaunchPaths(clients(), signal, later())).toEqual({ groups: [], complete: true });
    expect(ec2.calls()).toHaveLength(0);
    expect(autoScaling.commandCalls(DescribeLaunchConfigurationsCommand)).toHaveLength(0);
  });

  test('after `until`, no call starts: complete false', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    const found = await describeGroupLaunchPaths(clients(), signal, Date.now() - 1);
    expect(found).toEqual({ groups: [], complete: false, incomplete: expect.stringMatching(/cut short/) });
    expect(autoScaling.calls()).toHaveLength(0);
  });

  test('an aborted signal: no call starts', async () => {
    const controller = new AbortController();
    controller.abort();
    const found = await describeGroupLaunchPaths(clients(), controller.signal, later());
    expect(found.complete).toBe(false);
    expect(autoScaling.calls()).toHaveLength(0);
  });

  test('the time runs out between the listing and the templates: sources unknown, complete false', async () => {
    let now = 1_000;
    const spy = jest.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      autoScaling.on(DescribeAutoScalingGroupsCommand).callsFake(() => {
        now = 5_000;
        return page([{ AutoScalingGroupName: 'g', LaunchTemplate: { LaunchTemplateId: 'lt-1', Version: '1' } }, { AutoScalingGroupName: 'h', LaunchConfigurationName: 'c' }]);
      });
      const found = await describeGroupLaunchPaths(clients(), signal, 2_000);
      expect(found.groups.map((g) => g.imdsv1)).toEqual(['unknown', 'unknown']);
      expect(found.incomplete).toBe('launch templates not read (cut short: the time for listing the Auto Scaling groups is over); launch configurations not read (cut short: the time for listing the Auto Scaling groups is over)');
      expect(ec2.calls()).toHaveLength(0);
      expect(autoScaling.commandCalls(DescribeLaunchConfigurationsCommand)).toHaveLength(0);
    } finally {
      spy.mockRestore();
    }
  });

  test('the second page of groups fails: the first page is kept', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce(page([{ AutoScalingGroupName: 'a', LaunchConfigurationName: 'c' }], 't'))
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    autoScaling.on(DescribeLaunchConfigurationsCommand).resolves({ LaunchConfigurations: [{ LaunchConfigurationName: 'c', MetadataOptions: { HttpTokens: 'optional' } } as never] });
    const found = await describeGroupLaunchPaths(clients(), signal, later());
    expect(found.groups).toEqual([{ groupName: 'a', sources: [{ kind: 'launchConfiguration', name: 'c' }], imdsv1: 'allowed', instanceIds: [] }]);
    expect(found.incomplete).toBe('the groups could not all be listed (Throttling: Rate exceeded)');
    expect(autoScaling.commandCalls(DescribeAutoScalingGroupsCommand)[1].args[0].input).toEqual({ MaxRecords: GROUP_PAGE_SIZE, NextToken: 't' });
  });

  test('the calls carry the signal', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(page([{ AutoScalingGroupName: 'a', LaunchConfigurationName: 'c', LaunchTemplate: { LaunchTemplateId: 'lt-1' } }]));
    await describeGroupLaunchPaths(clients(), signal, later());
    for (const call of [...autoScaling.calls(), ...ec2.calls()]) {
      expect((call.args as unknown[])[1]).toEqual({ abortSignal: signal });
    }
    expect(ec2.commandCalls(DescribeLaunchTemplateVersionsCommand)[0].args[0].input).toEqual({ LaunchTemplateId: 'lt-1', Versions: ['$Default'], NextToken: undefined });
  });

  test('templates by name only, pages of versions, a version not answered is unknown', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(page([
      { AutoScalingGroupName: 'a', LaunchTemplate: { LaunchTemplateName: 'named', Version: '$Latest' } },
      { AutoScalingGroupName: 'b', LaunchTemplate: { LaunchTemplateName: 'named', Version: '7' } },
    ]));
    ec2.on(DescribeLaunchTemplateVersionsCommand)
      .resolvesOnce({ LaunchTemplateVersions: [{ VersionNumber: 2, DefaultVersion: true, LaunchTemplateData: { MetadataOptions: { HttpTokens: 'required' } } }], NextToken: 'n' })
      .resolves({ LaunchTemplateVersions: [{ VersionNumber: 3, DefaultVersion: false, LaunchTemplateData: { MetadataOptions: { HttpTokens: 'optional' } } }] });
    const found = await describeGroupLaunchPaths(clients(), signal, later());
    expect(found.groups.map((g) => [g.groupName, g.imdsv1])).toEqual([['a', 'allowed'], ['b', 'unknown']]);
    expect(found.complete).toBe(true);
    const calls = ec2.commandCalls(DescribeLaunchTemplateVersionsCommand).map((c) => c.args[0].input);
    expect(calls).toEqual([
      { LaunchTemplateName: 'named', Versions: ['$Latest', '7'], NextToken: undefined },
      { LaunchTemplateName: 'named', Versions: ['$Latest', '7'], NextToken: 'n' },
    ]);
  });

  test('more than three templates fail: the reason names three', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(page([1, 2, 3, 4].map((i) => ({ AutoScalingGroupName: `g${i}`, LaunchTemplate: { LaunchTemplateId: `lt-${i}`, Version: '1' } }))));
    ec2.on(DescribeLaunchTemplateVersionsCommand).rejects(Object.assign(new Error('nope'), { name: 'InvalidLaunchTemplateId.NotFound' }));
    const found = await describeGroupLaunchPaths(clients(), signal, later());
    expect(found.incomplete).toBe('launch templates not read (lt-1: InvalidLaunchTemplateId.NotFound: nope; lt-2: InvalidLaunchTemplateId.NotFound: nope; lt-3: InvalidLaunchTemplateId.NotFound: nope; ...)');
    expect(ec2.calls()).toHaveLength(4);
  });

  test('exactly three templates fail: no ellipsis', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(page([1, 2, 3].map((i) => ({ AutoScalingGroupName: `g${i}`, LaunchTemplate: { LaunchTemplateId: `lt-${i}`, Version: '1' } }))));
    ec2.on(DescribeLaunchTemplateVersionsCommand).rejects(Object.assign(new Error('nope'), { name: 'X' }));
    const found = await describeGroupLaunchPaths(clients(), signal, later());
    expect(found.incomplete).toBe('launch templates not read (lt-1: X: nope; lt-2: X: nope; lt-3: X: nope)');
  });

  test('launch configurations that fail: unknown, with the reason; pages of configurations are read', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(page([{ AutoScalingGroupName: 'a', LaunchConfigurationName: 'c1' }, { AutoScalingGroupName: 'b', LaunchConfigurationName: 'c2' }]));
    autoScaling.on(DescribeLaunchConfigurationsCommand)
      .resolvesOnce({ LaunchConfigurations: [{ LaunchConfigurationName: 'c1', MetadataOptions: { HttpTokens: 'required' } } as never], NextToken: 'p' })
      .rejects(Object.assign(new Error('boom'), { name: 'InternalFailure' }));
    const found = await describeGroupLaunchPaths(clients(), signal, later());
    expect(found.groups.map((g) => g.imdsv1)).toEqual(['required-tokens', 'unknown']);
    expect(found.incomplete).toBe('launch configurations not read (InternalFailure: boom)');
    expect(autoScaling.commandCalls(DescribeLaunchConfigurationsCommand)[1].args[0].input).toEqual({ LaunchConfigurationNames: ['c1', 'c2'], MaxRecords: 50, NextToken: 'p' });
  });

  test('pages without their lists (the SDK leaves an empty list out): nothing found, complete', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolvesOnce({ NextToken: 'n' } as never).resolves(page([
      { AutoScalingGroupName: 'a', LaunchConfigurationName: 'c', LaunchTemplate: { LaunchTemplateId: 'lt-1', Version: '1' } },
    ]));
    autoScaling.on(DescribeLaunchConfigurationsCommand).resolves({});
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({});
    const found = await describeGroupLaunchPaths(clients(), signal, later());
    expect(found).toEqual({ groups: [{ groupName: 'a', sources: expect.any(Array), imdsv1: 'unknown', instanceIds: [] }], complete: true });
    expect(found.groups[0].sources).toHaveLength(2);
  });

  test('a version answered without LaunchTemplateData: the account default decides', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(page([{ AutoScalingGroupName: 'a', LaunchTemplate: { LaunchTemplateId: 'lt-1', Version: '1' } }]));
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({ LaunchTemplateVersions: [{ VersionNumber: 1 }] });
    const found = await describeGroupLaunchPaths(clients(), signal, later());
    expect(found.groups[0].imdsv1).toBe('account-default');
    expect(found.complete).toBe(true);
  });

  test('two templates named by name only are read apart', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(page([
      { AutoScalingGroupName: 'a', LaunchTemplate: { LaunchTemplateName: 'one', Version: '1' } },
      { AutoScalingGroupName: 'b', LaunchTemplate: { LaunchTemplateName: 'two', Version: '1' } },
    ]));
    ec2.on(DescribeLaunchTemplateVersionsCommand, { LaunchTemplateName: 'one' })
      .resolves({ LaunchTemplateVersions: [{ VersionNumber: 1, LaunchTemplateData: { MetadataOptions: { HttpTokens: 'optional' } } }] });
    ec2.on(DescribeLaunchTemplateVersionsCommand, { LaunchTemplateName: 'two' })
      .resolves({ LaunchTemplateVersions: [{ VersionNumber: 1, LaunchTemplateData: { MetadataOptions: { HttpTokens: 'required' } } }] });
    const found = await describeGroupLaunchPaths(clients(), signal, later());
    expect(found.groups.map((g) => g.imdsv1)).toEqual(['allowed', 'required-tokens']);
    expect(ec2.commandCalls(DescribeLaunchTemplateVersionsCommand)).toHaveLength(2);
  });

  test('access denied on each first call is waited out (a new role), and the log names the call', async () => {
    const logs = captureLogs();
    const realSetTimeout = global.setTimeout;
    const quick = jest.spyOn(global, 'setTimeout').mockImplementation(((callback: () => void) => realSetTimeout(callback, 0)) as never);
    try {
      const denied = () => Object.assign(new Error('not yet'), { name: 'AccessDenied' });
      autoScaling.on(DescribeAutoScalingGroupsCommand).rejectsOnce(denied()).resolves(page([
        { AutoScalingGroupName: 'a', LaunchConfigurationName: 'c', LaunchTemplate: { LaunchTemplateId: 'lt-1', Version: '1' } },
      ]));
      autoScaling.on(DescribeLaunchConfigurationsCommand).rejectsOnce(denied()).resolves({ LaunchConfigurations: [] });
      ec2.on(DescribeLaunchTemplateVersionsCommand).rejectsOnce(Object.assign(new Error('not yet'), { name: 'UnauthorizedOperation' }))
        .resolves({ LaunchTemplateVersions: [] });
      const found = await describeGroupLaunchPaths(clients(), signal, later());
      expect(found.complete).toBe(true);
      const messages = logs.map((l) => JSON.parse(l).message);
      expect(messages).toEqual(expect.arrayContaining([
        'AccessDenied on the first Auto Scaling DescribeAutoScalingGroups call: waiting for the role\'s policy to propagate',
        'AccessDenied on the first Auto Scaling DescribeLaunchConfigurations call: waiting for the role\'s policy to propagate',
        'UnauthorizedOperation on the first EC2 DescribeLaunchTemplateVersions call: waiting for the role\'s policy to propagate',
      ]));
    } finally {
      quick.mockRestore();
    }
  });

  test('a group without a name or instance ids, and instances without an id', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(page([{ Instances: [{}, { InstanceId: 'i-1' }] }]));
    const found = await describeGroupLaunchPaths(clients(), signal, later());
    expect(found.groups).toEqual([{ groupName: '', sources: [{ kind: 'none' }], imdsv1: 'unknown', instanceIds: ['i-1'] }]);
  });
});

describe('sourcesOf', () => {
  test('a launch configuration', () => {
    expect(sourcesOf({ LaunchConfigurationName: 'c' } as never)).toEqual([{ kind: 'launchConfiguration', name: 'c' }]);
  });
  test('a template by id only has no name key at all', () => {
    expect(sourcesOf({ LaunchTemplate: { LaunchTemplateId: 'lt-1', Version: '2' } } as never)).toStrictEqual([{ kind: 'launchTemplate', id: 'lt-1', version: '2' }]);
  });
  test('none: a specification with neither id nor name is no source', () => {
    expect(sourcesOf({ LaunchTemplate: { Version: '1' } } as never)).toEqual([{ kind: 'none' }]);
    expect(sourcesOf({} as never)).toEqual([{ kind: 'none' }]);
  });
  test('a mixed policy: the template and the overrides\' own templates, each once', () => {
    expect(sourcesOf({
      MixedInstancesPolicy: {
        LaunchTemplate: {
          LaunchTemplateSpecification: { LaunchTemplateId: 'lt-1', Version: '$Latest' },
          Overrides: [{ LaunchTemplateSpecification: { LaunchTemplateId: 'lt-1', Version: '$Latest' } }, { LaunchTemplateSpecification: { LaunchTemplateName: 'n' } }, {}],
        },
      },
    } as never)).toEqual([
      { kind: 'launchTemplate', id: 'lt-1', version: '$Latest' },
      { kind: 'launchTemplate', id: '', name: 'n', version: '$Default' },
    ]);
  });
});

describe('imdsv1Of and worstImdsv1', () => {
  test.each([
    ['optional', 'allowed'],
    ['required', 'required-tokens'],
    [undefined, 'account-default'],
    ['something-new', 'unknown'],
  ])('HttpTokens %p: %s', (tokens, expected) => {
    expect(imdsv1Of(tokens)).toBe(expected);
  });

  test('allowed > unknown > account-default > required-tokens, and none is unknown', () => {
    expect(worstImdsv1([])).toBe('unknown');
    expect(worstImdsv1(['required-tokens'])).toBe('required-tokens');
    expect(worstImdsv1(['required-tokens', 'account-default'])).toBe('account-default');
    expect(worstImdsv1(['account-default', 'required-tokens'])).toBe('account-default');
    expect(worstImdsv1(['account-default', 'unknown', 'required-tokens'])).toBe('unknown');
    expect(worstImdsv1(['unknown', 'allowed', 'account-default'])).toBe('allowed');
    expect(worstImdsv1(['allowed', 'unknown'])).toBe('allowed');
  });
});
