/**
 * The readiness check before enforcement (lambda/account-defaults/readiness.ts),
 * through the handler, with the services mocked by aws-sdk-client-mock over a
 * world that holds launch templates, launch configurations and instances (see
 * support/aws-mocks.ts). The waits between attempts and the check's own budget
 * run at once (quickWaits): the mocked calls answer within the same turn of the
 * event loop, so a listing that is not left hanging on purpose always finishes
 * before its budget fires.
 */
import { getEventListeners } from 'events';
import { AutoScalingClient, DescribeLaunchConfigurationsCommand } from '@aws-sdk/client-auto-scaling';
import {
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
  ModifyInstanceMetadataDefaultsCommand,
} from '@aws-sdk/client-ec2';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import 'aws-sdk-client-mock-jest';
import { CREATE_FAILED_PREFIX, handler } from '../../../lambda/account-defaults/index';
import {
  NAMED_IN_LOG,
  NAMED_IN_REASON,
  PAGE_SIZE,
  READINESS_BUDGET_MS,
  checkReadiness,
  notChecked,
  parseReadinessCheck,
} from '../../../lambda/account-defaults/readiness';
import { InvalidPropertiesError } from '../../../lambda/account-defaults/settings';
import {
  READINESS_ATTRIBUTE_KEYS,
  READINESS_CHECK_LEGACY_VALUES,
  READINESS_CHECK_VALUES,
  READINESS_COUNT_ATTRIBUTE_KEYS,
  READINESS_RESULTS,
  READINESS_RESULT_ATTRIBUTE,
} from '../../../src/private/properties';
import { ResponseEndpoint } from '../../support/response-endpoint';
import { PHYSICAL_ID, REGION, answerOf, captureLogs, createEvent, quickWaits, updateEvent } from '../support';
import { World, autoScaling, ec2, emulate, fakes, newWorld, serviceError, ssm } from '../support/aws-mocks';

let endpoint: ResponseEndpoint;
let logs: string[];
let world: World;
let delays: number[];

const run = (event: Parameters<typeof handler>[0]) => answerOf(handler, endpoint, event);
const modifyCalls = () => ec2.commandCalls(ModifyInstanceMetadataDefaultsCommand).map((c) => c.args[0].input);
const readinessLog = () => logs.map((l) => JSON.parse(l)).filter((l) => l.message === 'readiness check before enforcing IMDSv2');

const ENFORCE = { HttpTokens: 'required', HttpTokensEnforced: 'enabled' };
const ENFORCE_AND_REPORT = { ...ENFORCE, ReadinessCheck: 'ENFORCE_AND_REPORT' };
/** What releases before the 1.0 API wrote for ENFORCE_AND_REPORT: a rollback to such a template, or a stack not yet upgraded, sends it. */
const LEGACY_REPORT_ONLY = { ...ENFORCE, ReadinessCheck: 'REPORT_ONLY' };
const NOT_CHECKED = {
  // The keys of earlier releases' templates ...
  LaunchTemplatesAllowingImdsv1: 'not-checked',
  LaunchConfigurationsAllowingImdsv1: 'not-checked',
  InstancesAllowingImdsv1: 'not-checked',
  // ... and the 1.0 ones: a result, and counts as decimal strings (0 when not checked).
  ReadinessCheckResult: 'NOT_CHECKED',
  LaunchTemplatesAllowingImdsv1Count: '0',
  LaunchConfigurationsAllowingImdsv1Count: '0',
  InstancesAllowingImdsv1Count: '0',
};
/** The Data of a check that ran: the legacy strings and the 1.0 keys. */
function checked(
  templates: number, configurations: number, instances: number,
  incomplete: { templates?: boolean; configurations?: boolean; instances?: boolean } = {},
) {
  const legacy = (n: number, cut?: boolean) => `${n}${cut ? '+' : ''}`;
  return {
    LaunchTemplatesAllowingImdsv1: legacy(templates, incomplete.templates),
    LaunchConfigurationsAllowingImdsv1: legacy(configurations, incomplete.configurations),
    InstancesAllowingImdsv1: legacy(instances, incomplete.instances),
    ReadinessCheckResult: Object.values(incomplete).some(Boolean) ? 'INCOMPLETE' : 'COMPLETE',
    LaunchTemplatesAllowingImdsv1Count: String(templates),
    LaunchConfigurationsAllowingImdsv1Count: String(configurations),
    InstancesAllowingImdsv1Count: String(instances),
  };
}
const REASON_TAIL = 'Nothing was changed. Make them require IMDSv2 (HttpTokens required: a new default launch template version, a new launch configuration), or set readinessCheck to ENFORCE_AND_REPORT to enforce anyway.';

/** A launch template whose versions (1, 2, …) set these HttpTokens (undefined: no MetadataOptions). */
function launchTemplate(id: string, name: string, versions: Array<string | undefined>, defaultVersion = 1): void {
  versions.forEach((tokens, i) => world.launchTemplateVersions.push({
    LaunchTemplateId: id,
    LaunchTemplateName: name,
    VersionNumber: i + 1,
    DefaultVersion: i + 1 === defaultVersion,
    LaunchTemplateData: tokens === undefined ? { ImageId: 'ami-12345678' } : { MetadataOptions: { HttpTokens: tokens as 'optional' | 'required' } },
  }));
}

function launchConfiguration(name: string, tokens?: string): void {
  world.launchConfigurations.push({
    LaunchConfigurationName: name,
    ImageId: 'ami-12345678',
    InstanceType: 't3.micro',
    CreatedTime: new Date(0),
    ...(tokens === undefined ? {} : { MetadataOptions: { HttpTokens: tokens as 'optional' | 'required' } }),
  });
}

function instance(id: string, tokens: string, state = 'running'): void {
  world.instances.push({ InstanceId: id, State: { Name: state as 'running' }, MetadataOptions: { HttpTokens: tokens as 'optional' } });
}

beforeAll(async () => {
  endpoint = await ResponseEndpoint.start();
  logs = captureLogs();
  delays = quickWaits();
});
afterAll(() => endpoint.stop());
beforeEach(() => {
  delays.length = 0;
  world = newWorld({ HttpEndpoint: 'enabled' });
  logs.length = 0;
  emulate(world);
});

describe('BLOCK (the default)', () => {
  test('an IMDSv1 launch template fails the Create with the template named, and nothing is changed', async () => {
    launchTemplate('lt-0a1b2c3d4e5f00001', 'web', ['optional']);
    launchTemplate('lt-0a1b2c3d4e5f00002', 'batch', ['required']);
    const answer = await run(createEvent(endpoint, ENFORCE));

    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toBe(`Enforcing IMDSv2 (HttpTokensEnforced enabled) would make launches fail that use these, which set HttpTokens to optional: launch templates (1): lt-0a1b2c3d4e5f00001 (web, version 1). ${REASON_TAIL}`);
    expect(answer.PhysicalResourceId.startsWith(CREATE_FAILED_PREFIX)).toBe(true);
    expect(ec2).not.toHaveReceivedCommand(ModifyInstanceMetadataDefaultsCommand);
    expect(ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(world.state).toEqual({ HttpEndpoint: 'enabled' });
    expect(readinessLog()).toEqual([{
      message: 'readiness check before enforcing IMDSv2',
      readinessCheck: 'BLOCK',
      outcome: 'blocked: nothing is changed',
      launchTemplates: { count: '1', names: ['lt-0a1b2c3d4e5f00001 (web, version 1)'] },
      launchConfigurations: { count: '0', names: [] },
      instances: { count: '0', names: [] },
    }]);
  });

  test('"BLOCK" given explicitly is the default', async () => {
    launchTemplate('lt-1', 'web', ['optional']);
    const answer = await run(createEvent(endpoint, { ...ENFORCE, ReadinessCheck: 'BLOCK' }));
    expect(answer.Status).toBe('FAILED');
    expect(modifyCalls()).toEqual([]);
  });

  test('an Update that enables enforcement is blocked too, and keeps its physical id', async () => {
    world.state = { HttpTokens: 'required' };
    launchTemplate('lt-1', 'web', ['optional']);
    const answer = await run(updateEvent(endpoint, ENFORCE, { HttpTokens: 'required' }));
    expect(answer).toMatchObject({ Status: 'FAILED', PhysicalResourceId: PHYSICAL_ID });
    expect(answer.Reason).toMatch(/^Enforcing IMDSv2 .* launch templates \(1\): lt-1 \(web, version 1\)\. Nothing was changed\./);
    expect(modifyCalls()).toEqual([]);
    expect(world.state).toEqual({ HttpTokens: 'required' });
  });

  test('an IMDSv1 launch configuration blocks; required ones and ones without metadata options do not count', async () => {
    launchConfiguration('legacy-web', 'optional');
    launchConfiguration('modern-web', 'required');
    launchConfiguration('plain-web');
    const answer = await run(createEvent(endpoint, ENFORCE));
    expect(answer.Reason).toBe(`Enforcing IMDSv2 (HttpTokensEnforced enabled) would make launches fail that use these, which set HttpTokens to optional: launch configurations (1): legacy-web. ${REASON_TAIL}`);
    expect(modifyCalls()).toEqual([]);
  });

  test('templates and configurations together, with the instances that allow IMDSv1 as information', async () => {
    launchTemplate('lt-1', 'web', ['optional']);
    launchTemplate('lt-2', 'api', ['optional']);
    launchConfiguration('legacy', 'optional');
    instance('i-1', 'optional');
    instance('i-2', 'optional', 'stopped');
    const answer = await run(createEvent(endpoint, ENFORCE));
    expect(answer.Reason).toBe('Enforcing IMDSv2 (HttpTokensEnforced enabled) would make launches fail that use these, which set HttpTokens to optional: '
      + 'launch templates (2): lt-1 (web, version 1), lt-2 (api, version 1); launch configurations (1): legacy. '
      + `${REASON_TAIL} Instances allowing IMDSv1: 2 (they keep running; the function's log lists them).`);
  });

  test('the reason names the first few only, and long names are cut, so the answer stays well under 4 KB', async () => {
    for (let i = 0; i < 30; i++) {
      launchTemplate(`lt-${String(i).padStart(17, '0')}`, `template-${i}-${'x'.repeat(120)}`, ['optional']);
      launchConfiguration(`configuration-${i}-${'y'.repeat(240)}`, 'optional');
      instance(`i-${i}`, 'optional');
    }
    const answer = await run(createEvent(endpoint, ENFORCE));
    expect(answer.Reason).toContain(`launch templates (30): lt-00000000000000000 (template-0-${'x'.repeat(64 - 14)}..., version 1), `);
    expect(answer.Reason).toContain(`launch configurations (30): configuration-0-${'y'.repeat(64 - 19)}..., `);
    expect(answer.Reason!.match(/\(template-\d+-x+\.\.\., version 1\)/g)).toHaveLength(NAMED_IN_REASON);
    expect(answer.Reason!.match(/configuration-\d+-y+\.\.\./g)).toHaveLength(NAMED_IN_REASON);
    expect(answer.Reason).toContain(`lt-00000000000000004 (template-4-${'x'.repeat(64 - 14)}..., version 1), ...; `);
    expect(answer.Reason).toContain('Instances allowing IMDSv1: 30 ');
    expect(answer.Reason!.length).toBeLessThan(1_500);
    // The log names more of them, capped too.
    const line = readinessLog()[0];
    expect(line.launchTemplates.names).toHaveLength(30);
    expect(line.instances).toEqual({ count: '30', names: Array.from({ length: 30 }, (_, i) => `i-${i}`) });
  });

  test('the log names at most NAMED_IN_LOG of each kind, with the full count', async () => {
    for (let i = 0; i < NAMED_IN_LOG + 7; i++) {
      instance(`i-${String(i).padStart(3, '0')}`, 'optional');
    }
    const answer = await run(createEvent(endpoint, ENFORCE));
    expect(answer.Status).toBe('SUCCESS');
    const line = readinessLog()[0];
    expect(line.instances.count).toBe(String(NAMED_IN_LOG + 7));
    expect(line.instances.names).toHaveLength(NAMED_IN_LOG);
    expect(line.instances.names[NAMED_IN_LOG - 1]).toBe(`i-${String(NAMED_IN_LOG - 1).padStart(3, '0')}`);
  });
});

describe('ENFORCE_AND_REPORT', () => {
  test('applies anyway and reports the counts as attributes and the resources in the log', async () => {
    launchTemplate('lt-1', 'web', ['optional']);
    launchTemplate('lt-2', 'api', ['optional']);
    launchConfiguration('legacy', 'optional');
    instance('i-1', 'optional');
    instance('i-2', 'optional');
    instance('i-3', 'optional', 'stopped');
    const answer = await run(createEvent(endpoint, ENFORCE_AND_REPORT));

    expect(answer.Status).toBe('SUCCESS');
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required', HttpTokensEnforced: 'enabled' }]);
    expect(world.state).toEqual({ HttpEndpoint: 'enabled', HttpTokens: 'required', HttpTokensEnforced: 'enabled' });
    expect(answer.Data).toMatchObject({
      HttpTokensEnforced: 'enabled',
      LaunchTemplatesAllowingImdsv1: '2',
      LaunchConfigurationsAllowingImdsv1: '1',
      InstancesAllowingImdsv1: '3',
      // Every listing finished: the counts are exact.
      ReadinessCheckResult: 'COMPLETE',
      LaunchTemplatesAllowingImdsv1Count: '2',
      LaunchConfigurationsAllowingImdsv1Count: '1',
      InstancesAllowingImdsv1Count: '3',
    });
    expect(readinessLog()).toEqual([{
      message: 'readiness check before enforcing IMDSv2',
      readinessCheck: 'ENFORCE_AND_REPORT',
      outcome: 'applying anyway (ENFORCE_AND_REPORT)',
      launchTemplates: { count: '2', names: ['lt-1 (web, version 1)', 'lt-2 (api, version 1)'] },
      launchConfigurations: { count: '1', names: ['legacy'] },
      instances: { count: '3', names: ['i-1', 'i-2', 'i-3'] },
    }]);
  });

  test('the legacy value "REPORT_ONLY" (earlier releases\' templates, and a rollback to one) means ENFORCE_AND_REPORT: it enforces and reports', async () => {
    launchTemplate('lt-1', 'web', ['optional']);
    launchConfiguration('legacy', 'optional');
    instance('i-1', 'optional');
    const answer = await run(createEvent(endpoint, LEGACY_REPORT_ONLY));

    expect(answer.Status).toBe('SUCCESS');
    expect(modifyCalls()).toEqual([{ HttpTokens: 'required', HttpTokensEnforced: 'enabled' }]);
    expect(world.state.HttpTokensEnforced).toBe('enabled');
    expect(answer.Data).toMatchObject(checked(1, 1, 1));
    expect(readinessLog()).toEqual([expect.objectContaining({ readinessCheck: 'ENFORCE_AND_REPORT', outcome: 'applying anyway (ENFORCE_AND_REPORT)' })]);
  });

  test('the legacy value in an Update that enables enforcement enforces too', async () => {
    world.state = { HttpTokens: 'required' };
    launchTemplate('lt-1', 'web', ['optional']);
    const answer = await run(updateEvent(endpoint, LEGACY_REPORT_ONLY, { HttpTokens: 'required' }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: PHYSICAL_ID });
    expect(modifyCalls()).toEqual([{ HttpTokensEnforced: 'enabled' }]);
    expect(answer.Data).toMatchObject(checked(1, 0, 0));
  });

  test('the check runs before the write: its calls come before the Modify', async () => {
    await run(createEvent(endpoint, ENFORCE_AND_REPORT));
    const order = ec2.calls().map((c) => c.args[0].constructor.name);
    expect(order.indexOf('DescribeLaunchTemplateVersionsCommand')).toBeLessThan(order.indexOf('ModifyInstanceMetadataDefaultsCommand'));
    expect(order.indexOf('DescribeInstancesCommand')).toBeLessThan(order.indexOf('ModifyInstanceMetadataDefaultsCommand'));
  });
});

describe('nothing in the way', () => {
  test('no IMDSv1 anywhere: enforcement is applied with zero counts and the log says so', async () => {
    launchTemplate('lt-1', 'web', ['required']);
    launchTemplate('lt-2', 'plain', [undefined]);
    launchConfiguration('modern', 'required');
    instance('i-1', 'required');
    const answer = await run(createEvent(endpoint, ENFORCE));
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.Data).toMatchObject(checked(0, 0, 0));
    expect(readinessLog()[0].outcome).toBe('nothing would break');
  });

  test('instances that allow IMDSv1 never block; terminated ones and IMDSv2 ones are not counted', async () => {
    instance('i-running', 'optional');
    instance('i-stopped', 'optional', 'stopped');
    instance('i-pending', 'optional', 'pending');
    instance('i-stopping', 'optional', 'stopping');
    instance('i-terminated', 'optional', 'terminated');
    instance('i-shutting', 'optional', 'shutting-down');
    instance('i-v2', 'required');
    const answer = await run(createEvent(endpoint, ENFORCE));
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.Data!.InstancesAllowingImdsv1).toBe('4');
    expect(answer.Data).toMatchObject({ InstancesAllowingImdsv1Count: '4', ReadinessCheckResult: 'COMPLETE' });
    expect(readinessLog()[0].instances).toEqual({ count: '4', names: ['i-running', 'i-stopped', 'i-pending', 'i-stopping'] });
    expect(world.state.HttpTokensEnforced).toBe('enabled');
  });
});

describe('when the check runs', () => {
  const describeCalls = () => [
    ...ec2.commandCalls(DescribeLaunchTemplateVersionsCommand),
    ...ec2.commandCalls(DescribeInstancesCommand),
    ...autoScaling.commandCalls(DescribeLaunchConfigurationsCommand),
  ];

  test('not when enforcement is already enabled: nothing is listed and the attributes say not-checked', async () => {
    world.state = { HttpTokensEnforced: 'enabled' };
    launchTemplate('lt-1', 'web', ['optional']);
    const answer = await run(createEvent(endpoint, ENFORCE));
    expect(answer.Status).toBe('SUCCESS');
    expect(describeCalls()).toEqual([]);
    expect(answer.Data).toMatchObject(NOT_CHECKED);
    expect(readinessLog()).toEqual([]);
  });

  test.each([
    ['only other settings', { HttpTokens: 'required' }],
    ['enforcement disabled', { HttpTokensEnforced: 'disabled' }],
    ['enforcement to no preference', { HttpTokensEnforced: 'no-preference' }],
  ])('not when the event does not enable enforcement (%s)', async (_, props) => {
    launchTemplate('lt-1', 'web', ['optional']);
    const answer = await run(createEvent(endpoint, props));
    expect(answer.Status).toBe('SUCCESS');
    expect(describeCalls()).toEqual([]);
    expect(answer.Data).toMatchObject(NOT_CHECKED);
  });

  test('not in an Update that keeps enforcement enabled', async () => {
    world.state = { HttpTokens: 'required', HttpTokensEnforced: 'enabled' };
    launchTemplate('lt-1', 'web', ['optional']);
    const answer = await run(updateEvent(endpoint, { ...ENFORCE, HttpPutResponseHopLimit: '2' }, ENFORCE));
    expect(answer.Status).toBe('SUCCESS');
    expect(describeCalls()).toEqual([]);
    expect(answer.Data).toMatchObject(NOT_CHECKED);
  });

  test('the rollback of a blocked Update does not enable enforcement, so it runs no check and succeeds', async () => {
    world.state = { HttpTokens: 'required' };
    launchTemplate('lt-1', 'web', ['optional']);
    expect((await run(updateEvent(endpoint, ENFORCE, { HttpTokens: 'required' }))).Status).toBe('FAILED');
    ec2.resetHistory();
    autoScaling.resetHistory();
    const rollback = await run(updateEvent(endpoint, { HttpTokens: 'required' }, ENFORCE));
    expect(rollback.Status).toBe('SUCCESS');
    expect(describeCalls()).toEqual([]);
    expect(world.state).toEqual({ HttpTokens: 'required' });
  });

  test('an unknown ReadinessCheck fails the event, naming the property and value, before any call', async () => {
    const answer = await run(createEvent(endpoint, { ...ENFORCE, ReadinessCheck: 'report-only' }));
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toBe('InvalidPropertiesError: ReadinessCheck must be one of "BLOCK", "ENFORCE_AND_REPORT"; got "report-only"');
    expect(ec2.calls()).toHaveLength(0);
  });

  test('an unknown ReadinessCheck fails an Update too, even one that does not enable enforcement', async () => {
    const answer = await run(updateEvent(endpoint, { HttpTokens: 'required', ReadinessCheck: '' }, { HttpTokens: 'required' }));
    expect(answer.Reason).toBe('InvalidPropertiesError: ReadinessCheck must be one of "BLOCK", "ENFORCE_AND_REPORT"; got ""');
    expect(ec2.calls()).toHaveLength(0);
  });
});

describe('what is listed, and how', () => {
  test('the requests: every template\'s $Latest and $Default filtered on http-tokens, instances by tokens and state, launch configurations, at the APIs\' page sizes', async () => {
    await run(createEvent(endpoint, ENFORCE_AND_REPORT));
    expect(ec2.commandCalls(DescribeLaunchTemplateVersionsCommand).map((c) => c.args[0].input)).toEqual([{
      Versions: ['$Latest', '$Default'],
      Filters: [{ Name: 'http-tokens', Values: ['optional'] }],
      MaxResults: 200,
      NextToken: undefined,
    }]);
    expect(ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input)).toEqual([{
      Filters: [
        { Name: 'metadata-options.http-tokens', Values: ['optional'] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
      MaxResults: 1000,
      NextToken: undefined,
    }]);
    expect(autoScaling.commandCalls(DescribeLaunchConfigurationsCommand).map((c) => c.args[0].input))
      .toEqual([{ MaxRecords: 100, NextToken: undefined }]);
  });

  test('the $Default and the $Latest version count; an older version does not; a template is counted once with its versions', async () => {
    launchTemplate('lt-default', 'a', ['optional', 'required'], 1); // $Default v1 allows IMDSv1
    launchTemplate('lt-latest', 'b', ['required', 'optional'], 1); // $Latest v2 does
    launchTemplate('lt-both', 'c', ['optional', 'optional'], 1); // both, two versions
    launchTemplate('lt-same', 'd', ['optional'], 1); // $Default is $Latest
    launchTemplate('lt-old', 'e', ['optional', 'required', 'required'], 3); // only an old version does
    const answer = await run(createEvent(endpoint, ENFORCE_AND_REPORT));
    expect(answer.Data!.LaunchTemplatesAllowingImdsv1).toBe('4');
    expect(answer.Data!.LaunchTemplatesAllowingImdsv1Count).toBe('4');
    expect(readinessLog()[0].launchTemplates.names).toEqual([
      'lt-default (a, version 1)',
      'lt-latest (b, version 2)',
      'lt-both (c, version 1, 2)',
      'lt-same (d, version 1)',
    ]);
  });

  test('versions are listed in order whatever order EC2 answers them in, and a version answered twice is listed once', async () => {
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({
      LaunchTemplateVersions: [
        { LaunchTemplateId: 'lt-1', LaunchTemplateName: 'web', VersionNumber: 3 },
        { LaunchTemplateId: 'lt-1', LaunchTemplateName: 'web', VersionNumber: 1, DefaultVersion: true },
        { LaunchTemplateId: 'lt-1', LaunchTemplateName: 'web', VersionNumber: 3 },
      ],
    });
    const answer = await run(createEvent(endpoint, ENFORCE_AND_REPORT));
    expect(answer.Data!.LaunchTemplatesAllowingImdsv1).toBe('1');
    expect(answer.Data!.LaunchTemplatesAllowingImdsv1Count).toBe('1');
    expect(readinessLog()[0].launchTemplates.names).toEqual(['lt-1 (web, version 1, 3)']);
  });

  test('pagination: every page of each listing is read', async () => {
    const templates = PAGE_SIZE.launchTemplates + 50;
    const configurations = PAGE_SIZE.launchConfigurations * 2 + 1;
    const instances = PAGE_SIZE.instances * 2 + 500;
    for (let i = 0; i < templates; i++) {
      launchTemplate(`lt-${i}`, `t${i}`, ['optional']);
    }
    for (let i = 0; i < configurations; i++) {
      launchConfiguration(`lc-${i}`, i % 2 === 0 ? 'optional' : 'required');
    }
    for (let i = 0; i < instances; i++) {
      instance(`i-${i}`, 'optional');
    }
    const answer = await run(createEvent(endpoint, ENFORCE_AND_REPORT));
    expect(answer.Data).toMatchObject(checked(templates, PAGE_SIZE.launchConfigurations + 1, instances));
    expect(ec2.commandCalls(DescribeLaunchTemplateVersionsCommand).map((c) => c.args[0].input.NextToken)).toEqual([undefined, '200']);
    expect(autoScaling.commandCalls(DescribeLaunchConfigurationsCommand).map((c) => c.args[0].input.NextToken)).toEqual([undefined, '100', '200']);
    expect(ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input.NextToken)).toEqual([undefined, '1000', '2000']);
  });
});

describe('a listing that does not finish', () => {
  /** The first page answers; the next one never does (until the check's budget aborts it). */
  function hangAfterFirstPage(): void {
    ec2.on(DescribeLaunchTemplateVersionsCommand)
      .callsFakeOnce(fakes(world).describeLaunchTemplateVersions)
      .callsFake(() => new Promise(() => undefined));
  }

  test('cut short by the budget, BLOCK fails with "at least N" and says why', async () => {
    for (let i = 0; i < PAGE_SIZE.launchTemplates + 1; i++) {
      launchTemplate(`lt-${String(i).padStart(3, '0')}`, `t${i}`, ['optional']);
    }
    hangAfterFirstPage();
    const answer = await run(createEvent(endpoint, ENFORCE));
    expect(delays).toContain(READINESS_BUDGET_MS);
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/^Enforcing IMDSv2 \(HttpTokensEnforced enabled\) would make launches fail that use these, which set HttpTokens to optional: launch templates \(at least 200\): lt-000 \(t0, version 1\), /);
    expect(answer.Reason).toContain('. The readiness check cannot show that enforcing IMDSv2 is safe: the launch templates could not all be listed (cut short: the check has 8 s). Nothing was changed.');
    expect(modifyCalls()).toEqual([]);
    expect(readinessLog()[0].launchTemplates).toMatchObject({ count: '200+', incomplete: 'cut short: the check has 8 s' });
  });

  test('cut short with nothing found yet, BLOCK still fails: the check cannot show it is safe', async () => {
    ec2.on(DescribeLaunchTemplateVersionsCommand).callsFake(() => new Promise(() => undefined));
    const answer = await run(createEvent(endpoint, ENFORCE));
    expect(answer.Reason).toBe('The readiness check cannot show that enforcing IMDSv2 is safe: the launch templates could not all be listed (cut short: the check has 8 s). '
      + 'Nothing was changed. Deploy again, or set readinessCheck to ENFORCE_AND_REPORT to enforce without the check.');
    expect(modifyCalls()).toEqual([]);
  });

  test('cut short, ENFORCE_AND_REPORT applies and answers "N+", the count found and INCOMPLETE', async () => {
    for (let i = 0; i < PAGE_SIZE.launchTemplates + 1; i++) {
      launchTemplate(`lt-${i}`, `t${i}`, ['optional']);
    }
    hangAfterFirstPage();
    const answer = await run(createEvent(endpoint, ENFORCE_AND_REPORT));
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.Data).toMatchObject({ LaunchTemplatesAllowingImdsv1: '200+', LaunchConfigurationsAllowingImdsv1: '0', InstancesAllowingImdsv1: '0' });
    // The 1.0 keys: a plain count (at least that many), and the result says the listing did not finish.
    expect(answer.Data).toMatchObject(checked(200, 0, 0, { templates: true }));
    expect(answer.Data!.ReadinessCheckResult).toBe('INCOMPLETE');
    expect(world.state.HttpTokensEnforced).toBe('enabled');
  });

  test('a failed listing in BLOCK mode fails the event, naming the error, and changes nothing', async () => {
    autoScaling.on(DescribeLaunchConfigurationsCommand).rejects(serviceError('InternalFailure', 'Auto Scaling is having a bad day', 500));
    const answer = await run(createEvent(endpoint, ENFORCE));
    expect(answer.Reason).toBe('The readiness check cannot show that enforcing IMDSv2 is safe: the launch configurations could not all be listed (InternalFailure: Auto Scaling is having a bad day). '
      + 'Nothing was changed. Deploy again, or set readinessCheck to ENFORCE_AND_REPORT to enforce without the check.');
    expect(modifyCalls()).toEqual([]);
    expect(world.state).toEqual({ HttpEndpoint: 'enabled' });
  });

  test('a failed listing with findings names both', async () => {
    launchTemplate('lt-1', 'web', ['optional']);
    autoScaling.on(DescribeLaunchConfigurationsCommand).rejects(serviceError('ValidationError', 'NextToken is invalid', 400));
    const answer = await run(createEvent(endpoint, ENFORCE));
    expect(answer.Reason).toBe('Enforcing IMDSv2 (HttpTokensEnforced enabled) would make launches fail that use these, which set HttpTokens to optional: launch templates (1): lt-1 (web, version 1). '
      + 'The readiness check cannot show that enforcing IMDSv2 is safe: the launch configurations could not all be listed (ValidationError: NextToken is invalid). '
      + REASON_TAIL);
  });

  test('a failed listing in ENFORCE_AND_REPORT mode applies, answers "N+" (INCOMPLETE, the count found) and logs the error', async () => {
    launchConfiguration('legacy', 'optional');
    autoScaling.on(DescribeLaunchConfigurationsCommand)
      .callsFakeOnce(() => ({ LaunchConfigurations: world.launchConfigurations, NextToken: 'more' }))
      .rejects(serviceError('InternalFailure', 'Auto Scaling is having a bad day', 500));
    const answer = await run(createEvent(endpoint, ENFORCE_AND_REPORT));
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.Data!.LaunchConfigurationsAllowingImdsv1).toBe('1+');
    expect(answer.Data).toMatchObject(checked(0, 1, 0, { configurations: true }));
    expect(readinessLog()[0].launchConfigurations).toEqual({ count: '1+', names: ['legacy'], incomplete: 'InternalFailure: Auto Scaling is having a bad day' });
  });

  test('the instance listing failing never blocks', async () => {
    ec2.on(DescribeInstancesCommand).rejects(serviceError('UnauthorizedOperation', 'You are not authorized', 403));
    const answer = await run(createEvent(endpoint, ENFORCE));
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.Data!.InstancesAllowingImdsv1).toBe('0+');
    // Not blocking, but the counts are not exact: INCOMPLETE.
    expect(answer.Data).toMatchObject(checked(0, 0, 0, { instances: true }));
    expect(world.state.HttpTokensEnforced).toBe('enabled');
  });
});

describe('the attributes when the check does not run', () => {
  test('a Create skipped under a declarative policy answers them as not-checked (Fn::GetAtt must find them)', async () => {
    world.managedBy = { ManagedBy: 'declarative-policy' };
    const answer = await run(createEvent(endpoint, { ...ENFORCE, SkipIfManagedByDeclarativePolicy: 'true' }));
    expect(answer.Data).toMatchObject(NOT_CHECKED);
    expect(ec2).not.toHaveReceivedCommand(DescribeLaunchTemplateVersionsCommand);
  });

  test('notChecked() gives the legacy keys the not-checked value, the counts "0" and the result NOT_CHECKED', () => {
    expect(notChecked()).toEqual(NOT_CHECKED);
  });

  test('the keys match the attributes the construct reads (Fn::GetAtt of a missing key fails the stack)', () => {
    expect(Object.keys(notChecked()).sort())
      .toEqual([...READINESS_ATTRIBUTE_KEYS, ...READINESS_COUNT_ATTRIBUTE_KEYS, READINESS_RESULT_ATTRIBUTE].sort());
    expect(READINESS_RESULTS).toContain(notChecked()[READINESS_RESULT_ATTRIBUTE]);
  });

  test('an event that does not enable enforcement answers NOT_CHECKED with "0" counts, also in ENFORCE_AND_REPORT mode', async () => {
    launchTemplate('lt-1', 'web', ['optional']);
    const answer = await run(createEvent(endpoint, { HttpTokens: 'required', ReadinessCheck: 'ENFORCE_AND_REPORT' }));
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.Data).toMatchObject(NOT_CHECKED);
  });
});

describe('parseReadinessCheck', () => {
  test.each([
    [undefined, 'BLOCK'],
    [{}, 'BLOCK'],
    [{ ReadinessCheck: 'BLOCK' }, 'BLOCK'],
    [{ ReadinessCheck: 'ENFORCE_AND_REPORT' }, 'ENFORCE_AND_REPORT'],
    // What earlier releases wrote for it: same meaning.
    [{ ReadinessCheck: 'REPORT_ONLY' }, 'ENFORCE_AND_REPORT'],
  ])('%j → %s', (properties, mode) => {
    expect(parseReadinessCheck(properties)).toBe(mode);
  });

  test('the values the construct writes are ReadinessCheckMode\'s, and the legacy one maps to one of them', () => {
    expect([...READINESS_CHECK_VALUES]).toEqual(['BLOCK', 'ENFORCE_AND_REPORT']);
    expect({ ...READINESS_CHECK_LEGACY_VALUES }).toEqual({ REPORT_ONLY: 'ENFORCE_AND_REPORT' });
  });

  // Lower case, the other enums' REPORT_ONLY spellings, and names an object has by inheritance are no legacy value.
  test.each([['block'], ['report_only'], ['enforce_and_report'], ['ENFORCE'], [''], [true], [null], [1], [['BLOCK']], ['toString'], ['__proto__'], ['hasOwnProperty'], ['constructor']])('rejects %j, listing only the current values', (value) => {
    expect(() => parseReadinessCheck({ ReadinessCheck: value })).toThrow(new RegExp(`^ReadinessCheck must be one of "BLOCK", "ENFORCE_AND_REPORT"; got ${JSON.stringify(value).replace(/[[\]]/g, '\\$&')}$`));
  });

  test('the error is an InvalidPropertiesError (the handler answers FAILED before any call)', () => {
    expect(() => parseReadinessCheck({ ReadinessCheck: 'REPORT-ONLY' })).toThrow(InvalidPropertiesError);
  });
});

describe('bounds, aborts and edges', () => {
  const clients = { ec2: () => new EC2Client({ region: REGION }), autoScaling: () => new AutoScalingClient({ region: REGION }) };
  const signalOf = (call: { args: unknown[] }) => (call.args[1] as { abortSignal: AbortSignal }).abortSignal;

  test('every call carries the check\'s abort signal, which follows the handler\'s deadline and is let go of afterwards', async () => {
    const deadline = new AbortController();
    ec2.on(DescribeInstancesCommand).callsFake(() => new Promise(() => undefined));
    const checking = checkReadiness({ HttpTokensEnforced: 'enabled' }, {}, 'ENFORCE_AND_REPORT', clients, deadline.signal, {});
    await new Promise((resolve) => setImmediate(resolve));
    const pending = signalOf(ec2.commandCalls(DescribeInstancesCommand)[0]);
    expect(pending.aborted).toBe(false);
    expect(getEventListeners(deadline.signal, 'abort')).toHaveLength(1);
    deadline.abort();
    expect(pending.aborted).toBe(true);
    expect(signalOf(ec2.commandCalls(DescribeLaunchTemplateVersionsCommand)[0])).toBe(pending);
    expect(signalOf(autoScaling.commandCalls(DescribeLaunchConfigurationsCommand)[0])).toBe(pending);
    expect(await checking).toEqual(checked(0, 0, 0, { instances: true }));
    expect(getEventListeners(deadline.signal, 'abort')).toHaveLength(0);
  });

  test('a check that ends on its own leaves no listener on the deadline', async () => {
    const deadline = new AbortController();
    expect(await checkReadiness({ HttpTokensEnforced: 'enabled' }, {}, 'BLOCK', clients, deadline.signal, {})).toEqual(checked(0, 0, 0));
    expect(getEventListeners(deadline.signal, 'abort')).toHaveLength(0);
  });

  test('a deadline already passed aborts the calls at once', async () => {
    const deadline = new AbortController();
    deadline.abort();
    await checkReadiness({ HttpTokensEnforced: 'enabled' }, {}, 'ENFORCE_AND_REPORT', clients, deadline.signal, {});
    expect(signalOf(ec2.commandCalls(DescribeInstancesCommand)[0]).aborted).toBe(true);
  });

  test('access denied on the first call of each listing is waited out as IAM propagates, and logged with the call', async () => {
    const denied = () => serviceError('UnauthorizedOperation', 'not yet', 403);
    ec2.on(DescribeLaunchTemplateVersionsCommand).rejectsOnce(denied()).callsFake(fakes(world).describeLaunchTemplateVersions);
    ec2.on(DescribeInstancesCommand).rejectsOnce(denied()).callsFake(fakes(world).describeInstances);
    autoScaling.on(DescribeLaunchConfigurationsCommand).rejectsOnce(serviceError('AccessDenied', 'not yet', 403)).callsFake(fakes(world).describeLaunchConfigurations);
    await checkReadiness({ HttpTokensEnforced: 'enabled' }, {}, 'ENFORCE_AND_REPORT', clients, new AbortController().signal, {});
    for (const line of [
      { message: 'UnauthorizedOperation on the first EC2 DescribeLaunchTemplateVersions call: waiting for the role\'s policy to propagate', attempt: 1 },
      { message: 'AccessDenied on the first Auto Scaling DescribeLaunchConfigurations call: waiting for the role\'s policy to propagate', attempt: 1 },
      { message: 'UnauthorizedOperation on the first EC2 DescribeInstances call: waiting for the role\'s policy to propagate', attempt: 1 },
    ]) {
      expect(logs).toContainEqual(JSON.stringify(line));
    }
    expect(delays).toEqual(expect.arrayContaining([READINESS_BUDGET_MS, 1_000]));
  });

  test('pages without their lists (nothing to report) count as empty', async () => {
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({});
    ec2.on(DescribeInstancesCommand).resolvesOnce({ NextToken: 'next' }).resolves({ Reservations: [{ ReservationId: 'r-1' }] });
    autoScaling.on(DescribeLaunchConfigurationsCommand).resolves({});
    const answer = await run(createEvent(endpoint, ENFORCE));
    expect(answer.Status).toBe('SUCCESS');
    expect(answer.Data).toMatchObject(checked(0, 0, 0));
  });

  test('a name of 64 characters is quoted whole, one of 65 is cut to 61 and "..."', async () => {
    launchTemplate('lt-1', 'a'.repeat(64), ['optional']);
    launchTemplate('lt-2', 'b'.repeat(65), ['optional']);
    const answer = await run(createEvent(endpoint, ENFORCE));
    expect(answer.Reason).toContain(`lt-1 (${'a'.repeat(64)}, version 1), lt-2 (${'b'.repeat(61)}..., version 1).`);
  });

  test('exactly NAMED_IN_REASON of a kind: all named, no "..."', async () => {
    for (let i = 0; i < NAMED_IN_REASON; i++) {
      launchConfiguration(`lc-${i}`, 'optional');
    }
    const answer = await run(createEvent(endpoint, ENFORCE));
    expect(answer.Reason).toContain(`launch configurations (${NAMED_IN_REASON}): lc-0, lc-1, lc-2, lc-3, lc-4. Nothing was changed.`);
  });

  test('both listings unfinished: each named, the error cut to 300 characters; instances unfinished read "at least N"', async () => {
    launchTemplate('lt-1', 'web', ['optional']);
    ec2.on(DescribeLaunchTemplateVersionsCommand).rejects(serviceError('InternalError', 'x'.repeat(400), 500));
    autoScaling.on(DescribeLaunchConfigurationsCommand).rejects(serviceError('InternalFailure', 'down', 500));
    instance('i-1', 'optional');
    ec2.on(DescribeInstancesCommand)
      .callsFakeOnce(() => ({ Reservations: [{ Instances: world.instances }], NextToken: 'more' }))
      .rejects(serviceError('InternalError', 'later pages failed', 500));
    const answer = await run(createEvent(endpoint, ENFORCE));
    expect(answer.Reason).toBe('The readiness check cannot show that enforcing IMDSv2 is safe: '
      + `the launch templates could not all be listed (InternalError: ${'x'.repeat(300 - 'InternalError: '.length)}); `
      + 'the launch configurations could not all be listed (InternalFailure: down). '
      + 'Nothing was changed. Deploy again, or set readinessCheck to ENFORCE_AND_REPORT to enforce without the check. '
      + 'Instances allowing IMDSv1: at least 1 (they keep running; the function\'s log lists them).');
  });
});
