/**
 * End-to-end: the readiness check before enforcement, through the shipped
 * inline handler (the runtime's Node.js and SDK clients) against the local EC2
 * and Auto Scaling endpoints: what it finds there (launch templates, launch
 * configurations, instances), what it blocks, what it lets through, and why it
 * matters (after enforcement, EC2 refuses a launch from an IMDSv1 launch template).
 *
 * Every answer carries the attributes of the 1.0 API (ReadinessCheckResult and
 * the ...AllowingImdsv1Count keys, which ImdsAccountDefaults reads; each
 * template here outputs them, so a missing key fails the stack as CloudFormation
 * would) and the keys templates of earlier releases read ("3", "3+",
 * "not-checked"); a template of the previous release, whose property says
 * REPORT_ONLY, still works with this handler.
 */
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { REGION, World, expectFailed, expectSuccess, scenario } from './harness/scenario';
import { PREVIOUS_COMMIT, previousReleaseTemplate, synthesizeImds } from './harness/template';
import { ImdsAccountDefaultsProps, ImdsHttpTokens, ImdsHttpTokensEnforced, ReadinessCheckMode } from '../../src';
import { ENFORCED_LAUNCH_MESSAGE, TEST_CREDENTIALS } from '../support/ec2-emulator';
import { seedFleet } from '../support/fleet';

type Kind = 'launchTemplates' | 'launchConfigurations' | 'instances';

/**
 * The readiness Data of an answer when the check ran, written out (not imported
 * from the library: a renamed key or value breaks this suite): ReadinessCheckResult
 * (INCOMPLETE when a kind's listing did not finish), each count as a decimal
 * string (what was found: a lower bound for an unfinished kind), and the keys of
 * earlier releases (the count, "N+" for an unfinished kind).
 */
function readiness(counts: Partial<Record<Kind, number>>, unfinished: readonly Kind[] = []): Record<string, string> {
  const count = (kind: Kind) => String(counts[kind] ?? 0);
  const legacy = (kind: Kind) => `${count(kind)}${unfinished.includes(kind) ? '+' : ''}`;
  return {
    ReadinessCheckResult: unfinished.length > 0 ? 'INCOMPLETE' : 'COMPLETE',
    LaunchTemplatesAllowingImdsv1Count: count('launchTemplates'),
    LaunchConfigurationsAllowingImdsv1Count: count('launchConfigurations'),
    InstancesAllowingImdsv1Count: count('instances'),
    LaunchTemplatesAllowingImdsv1: legacy('launchTemplates'),
    LaunchConfigurationsAllowingImdsv1: legacy('launchConfigurations'),
    InstancesAllowingImdsv1: legacy('instances'),
  };
}

/** The readiness Data of an answer when the check did not run. */
const NOT_CHECKED = {
  ReadinessCheckResult: 'NOT_CHECKED',
  LaunchTemplatesAllowingImdsv1Count: '0',
  LaunchConfigurationsAllowingImdsv1Count: '0',
  InstancesAllowingImdsv1Count: '0',
  LaunchTemplatesAllowingImdsv1: 'not-checked',
  LaunchConfigurationsAllowingImdsv1: 'not-checked',
  InstancesAllowingImdsv1: 'not-checked',
};

const ENFORCE: ImdsAccountDefaultsProps = { httpTokens: ImdsHttpTokens.REQUIRED, httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED };
const REQUIRE_ONLY: ImdsAccountDefaultsProps = { httpTokens: ImdsHttpTokens.REQUIRED };

/** The log line the check writes, parsed from the function's output. */
function readinessLine(logs: string): any {
  const lines = logs.split('\n').filter((l) => l.includes('"readiness check before enforcing IMDSv2"'));
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0].slice(lines[0].indexOf('{')));
}

/** A launch through the project's client-ec2, as a user's Auto Scaling group or script would make it. */
function launch(w: World, launchTemplateId: string) {
  const client = new EC2Client({ region: REGION, endpoint: w.ec2.endpoint, credentials: TEST_CREDENTIALS, maxAttempts: 1 });
  return client.send(new RunInstancesCommand({ MinCount: 1, MaxCount: 1, LaunchTemplate: { LaunchTemplateId: launchTemplateId } }));
}

scenario('BLOCK (the default): an IMDSv1 launch template fails the Create, the settings stay as they were, and the rollback Delete changes nothing', async (w) => {
  w.ec2.setState(REGION, { HttpEndpoint: 'enabled' });
  const web = w.ec2.addLaunchTemplate(REGION, { LaunchTemplateName: 'web', versions: [{ MetadataOptions: { HttpTokens: 'optional' } }] });
  w.ec2.addLaunchTemplate(REGION, { LaunchTemplateName: 'api', versions: [{ MetadataOptions: { HttpTokens: 'required' } }] });
  const stack = w.stack();

  const create = await stack.create(synthesizeImds(ENFORCE));
  expectFailed(create, new RegExp(`^Enforcing IMDSv2 \\(HttpTokensEnforced enabled\\) would make launches fail that use these, which set HttpTokens to optional: launch templates \\(1\\): ${web.LaunchTemplateId} \\(web, version 1\\)\\. Nothing was changed\\.`));
  // Read, list, and no write.
  expect([...create.ec2Actions].sort()).toEqual(['DescribeInstances', 'DescribeLaunchTemplateVersions', 'GetInstanceMetadataDefaults']);
  expect(create.autoscalingActions).toEqual(['DescribeLaunchConfigurations']);
  expect(create.ssmActions).toEqual(['GetParametersByPath']);
  expect(w.state()).toEqual({ HttpEndpoint: 'enabled' });
  expect(w.claims()).toEqual([]);
  expect(create.ec2Requests.find((r) => r.action === 'DescribeLaunchTemplateVersions')!.params).toMatchObject({
    'LaunchTemplateVersion.1': '$Latest', 'LaunchTemplateVersion.2': '$Default', 'Filter.1.Name': 'http-tokens', 'Filter.1.Value.1': 'optional', 'MaxResults': '200',
  });
  expect(readinessLine(create.invocation!.logs)).toMatchObject({ readinessCheck: 'BLOCK', launchTemplates: { count: '1', names: [`${web.LaunchTemplateId} (web, version 1)`] } });

  const rollback = await stack.rollback();
  expectSuccess(rollback);
  expect(rollback.ec2Actions).toEqual([]);
  expect(w.state()).toEqual({ HttpEndpoint: 'enabled' });
});

scenario('BLOCK: an IMDSv1 launch configuration blocks an Update; after fixing it, the same Update goes through', async (w) => {
  w.autoscaling.addLaunchConfiguration(REGION, { LaunchConfigurationName: 'legacy-web', MetadataOptions: { HttpTokens: 'optional' } });
  w.autoscaling.addLaunchConfiguration(REGION, { LaunchConfigurationName: 'modern-web', MetadataOptions: { HttpTokens: 'required' } });
  const stack = w.stack();
  expectSuccess(await stack.create(synthesizeImds(REQUIRE_ONLY)), NOT_CHECKED);

  const update = await stack.update(synthesizeImds(ENFORCE));
  expectFailed(update, /launch configurations \(1\): legacy-web\. Nothing was changed\. Make them require IMDSv2/);
  expect(update.ec2Actions).not.toContain('ModifyInstanceMetadataDefaults');
  expect(w.state()).toEqual({ HttpTokens: 'required' });
  const rollback = await stack.rollback();
  expectSuccess(rollback);
  expect(rollback.ec2Actions).toEqual(['GetInstanceMetadataDefaults']); // no check: the rollback does not enable enforcement
  expect(stack.status).toBe('UPDATE_ROLLBACK_COMPLETE');

  // The fix: a launch configuration that requires IMDSv2 replaces the old one.
  w.autoscaling.clearLaunchConfigurations(REGION);
  w.autoscaling.addLaunchConfiguration(REGION, { LaunchConfigurationName: 'legacy-web-v2', MetadataOptions: { HttpTokens: 'required' } });
  const retry = await stack.update(synthesizeImds(ENFORCE));
  expectSuccess(retry, { HttpTokensEnforced: 'enabled', ...readiness({}) });
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled' });
});

scenario('ENFORCE_AND_REPORT applies, reports the counts, and a launch from the IMDSv1 template then fails with UnsupportedOperation', async (w) => {
  const web = w.ec2.addLaunchTemplate(REGION, {
    LaunchTemplateName: 'web',
    // $Default (1) allows IMDSv1, $Latest (2) requires IMDSv2: the template still counts.
    versions: [{ MetadataOptions: { HttpTokens: 'optional' } }, { MetadataOptions: { HttpTokens: 'required' } }],
  });
  const fixed = w.ec2.addLaunchTemplate(REGION, { LaunchTemplateName: 'fixed', versions: [{ MetadataOptions: { HttpTokens: 'required' } }] });
  w.autoscaling.addLaunchConfiguration(REGION, { LaunchConfigurationName: 'legacy', MetadataOptions: { HttpTokens: 'optional' } });
  const v1 = w.ec2.addInstances(REGION, 3, { MetadataOptions: { HttpTokens: 'optional' } });
  w.ec2.addInstance(REGION, { State: 'terminated', MetadataOptions: { HttpTokens: 'optional' } });
  w.ec2.addInstance(REGION, { MetadataOptions: { HttpTokens: 'required' } });

  // Before enforcement the IMDSv1 template launches.
  await expect(launch(w, web.LaunchTemplateId)).resolves.toBeDefined();

  const stack = w.stack();
  const create = await stack.create(synthesizeImds({ ...ENFORCE, readinessCheck: ReadinessCheckMode.ENFORCE_AND_REPORT }));
  expect(create.event!.ResourceProperties.ReadinessCheck).toBe('ENFORCE_AND_REPORT');
  expectSuccess(create, {
    HttpTokensEnforced: 'enabled',
    // The instances: the three above and the one just launched from the template.
    ...readiness({ launchTemplates: 1, launchConfigurations: 1, instances: 4 }),
  });
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled' });
  const line = readinessLine(create.invocation!.logs);
  expect(line).toMatchObject({
    readinessCheck: 'ENFORCE_AND_REPORT', outcome: 'applying anyway (ENFORCE_AND_REPORT)', launchConfigurations: { count: '1', names: ['legacy'] },
  });
  expect(line.instances.names).toEqual(expect.arrayContaining(v1.map((i) => i.InstanceId)));

  // What BLOCK would have prevented.
  await expect(launch(w, web.LaunchTemplateId)).rejects.toMatchObject({ name: 'UnsupportedOperation', message: ENFORCED_LAUNCH_MESSAGE });
  await expect(launch(w, fixed.LaunchTemplateId)).resolves.toBeDefined();
});

scenario('enforcement already enabled: no check, the attributes say NOT_CHECKED', async (w) => {
  w.ec2.setState(REGION, { HttpTokensEnforced: 'enabled' });
  w.ec2.addLaunchTemplate(REGION, { LaunchTemplateName: 'web', versions: [{ MetadataOptions: { HttpTokens: 'optional' } }] });
  const create = await w.stack().create(synthesizeImds(ENFORCE));
  expectSuccess(create, NOT_CHECKED);
  expect(create.ec2Actions).toEqual(['GetInstanceMetadataDefaults', 'ModifyInstanceMetadataDefaults', 'GetInstanceMetadataDefaults']);
  expect(create.autoscalingActions).toEqual([]);
});

scenario('access denied on Auto Scaling while IAM propagates the new policy: waited out, then the check runs', async (w) => {
  w.autoscaling.injectFault({ code: 'AccessDenied', times: 2 });
  const create = await w.stack({ slowestEventMs: 6_000 }).create(synthesizeImds(ENFORCE));
  expectSuccess(create, readiness({}));
  expect(create.autoscalingActions).toEqual(Array(3).fill('DescribeLaunchConfigurations'));
}, { concurrent: true });

scenario('a listing that keeps failing blocks in BLOCK mode: the check cannot show enforcing is safe', async (w) => {
  w.autoscaling.injectFault({ code: 'AccessDenied', times: 100 });
  const create = await w.stack({ slowestEventMs: 12_000 }).create(synthesizeImds(ENFORCE));
  // After the IAM waits (1 + 2 + 4 s) the fourth refusal is reported, or the 8 s budget ends the listing first.
  expectFailed(create, /^The readiness check cannot show that enforcing IMDSv2 is safe: the launch configurations could not all be listed \((AccessDenied: .*|cut short: the check has 8 s)\)\. Nothing was changed\. Deploy again, or set readinessCheck to ENFORCE_AND_REPORT/);
  expect(create.ec2Actions).not.toContain('ModifyInstanceMetadataDefaults');
  expect(w.state()).toEqual({});
}, { concurrent: true });

scenario('ENFORCE_AND_REPORT with a listing cut short: enforcement is applied, the result is INCOMPLETE, the count what was found (at least that many)', async (w) => {
  for (let i = 0; i < 150; i++) {
    w.autoscaling.addLaunchConfiguration(REGION, { LaunchConfigurationName: `lc-${i}`, MetadataOptions: { HttpTokens: i % 3 === 0 ? 'optional' : 'required' } });
  }
  // The first page (100 configurations, 34 of them optional) is read; every later page refused.
  w.autoscaling.injectFault({ code: 'AccessDenied', times: 100, action: 'DescribeLaunchConfigurations', after: 1 });
  const reporting = synthesizeImds({ ...ENFORCE, readinessCheck: ReadinessCheckMode.ENFORCE_AND_REPORT });
  const create = await w.stack({ slowestEventMs: 12_000 }).create(reporting);
  expectSuccess(create, { HttpTokensEnforced: 'enabled', ...readiness({ launchConfigurations: 34 }, ['launchConfigurations']) });
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled' });
  expect(readinessLine(create.invocation!.logs)).toMatchObject({
    readinessCheck: 'ENFORCE_AND_REPORT',
    launchConfigurations: { count: '34+', incomplete: expect.stringMatching(/^(AccessDenied: .*|cut short: the check has 8 s)$/) },
  });
}, { concurrent: true });

// What the handler's acceptance of the earlier value is for: a property value of a stack's earlier template, 'REPORT_ONLY', reaching this release's handler.
scenario(`the previous release (${PREVIOUS_COMMIT}) with ReadinessCheck REPORT_ONLY: this release's handler takes it as ENFORCE_AND_REPORT in the upgrade's Update and in a rollback Update to that template`, async (w) => {
  const web = w.ec2.addLaunchTemplate(REGION, { LaunchTemplateName: 'web', versions: [{ MetadataOptions: { HttpTokens: 'optional' } }] });
  const previous = previousReleaseTemplate('account-defaults-report-only');
  const stack = w.stack();
  // That release's own handler: it enforces despite the IMDSv1 launch template, and answers its keys only.
  const create = await stack.create(previous);
  expect(create.event!.ResourceProperties).toMatchObject({ HttpTokensEnforced: 'enabled', ReadinessCheck: 'REPORT_ONLY' });
  expectSuccess(create, { HttpTokensEnforced: 'enabled', LaunchTemplatesAllowingImdsv1: '1' });
  expect(create.answer!.Data).not.toHaveProperty('ReadinessCheckResult');
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled' });

  // The upgrade to this release, which also stops enforcing for now; another resource fails it.
  const upgrade = await stack.update(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED, httpTokensEnforced: ImdsHttpTokensEnforced.DISABLED }), {}, { anotherResourceFails: 'AppQueue' });
  expect(upgrade.event!.OldResourceProperties.ReadinessCheck).toBe('REPORT_ONLY');
  expectSuccess(upgrade, { HttpTokensEnforced: 'disabled', ...NOT_CHECKED });
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'disabled' });

  // The rollback Update, run by this release's function (as when CloudFormation rolls the custom resource back before
  // its function), enables enforcement again with the earlier properties: the check runs and, as REPORT_ONLY said,
  // reports instead of blocking (BLOCK would leave the stack UPDATE_ROLLBACK_FAILED).
  const rollback = await stack.rollback({ functionsLast: true });
  expect(rollback.event!.ResourceProperties).toMatchObject({ HttpTokensEnforced: 'enabled', ReadinessCheck: 'REPORT_ONLY' });
  expectSuccess(rollback, { HttpTokensEnforced: 'enabled', ...readiness({ launchTemplates: 1 }) });
  expect(readinessLine(rollback.invocation!.logs)).toMatchObject({
    readinessCheck: 'ENFORCE_AND_REPORT', outcome: 'applying anyway (ENFORCE_AND_REPORT)', launchTemplates: { count: '1', names: [`${web.LaunchTemplateId} (web, version 1)`] },
  });
  expect(stack.status).toBe('UPDATE_ROLLBACK_COMPLETE');
  expect(w.state()).toEqual({ HttpTokens: 'required', HttpTokensEnforced: 'enabled' });

  // The upgrade again, with the same meaning under the 1.0 name: nothing to change, and the attributes of both.
  const again = await stack.update(synthesizeImds({ ...ENFORCE, readinessCheck: ReadinessCheckMode.ENFORCE_AND_REPORT }));
  expect(again.event!.ResourceProperties.ReadinessCheck).toBe('ENFORCE_AND_REPORT');
  expect(again.event!.OldResourceProperties.ReadinessCheck).toBe('REPORT_ONLY');
  expectSuccess(again, NOT_CHECKED);
  expect(again.ec2Actions).not.toContain('ModifyInstanceMetadataDefaults');
  expectSuccess(await stack.delete());
  expect(w.state()).toEqual({});
});

scenario('a fleet of 3,000 instances: every page is read within the budget, with the oldest SDK the handler supports', async (w) => {
  const fleet = seedFleet(w.ec2, w.cloudwatch, REGION, { count: 3_000 });
  for (let i = 0; i < 250; i++) {
    w.ec2.addLaunchTemplate(REGION, { LaunchTemplateName: `t-${i}`, versions: [{ MetadataOptions: { HttpTokens: i % 2 === 0 ? 'optional' : 'required' } }] });
  }
  for (let i = 0; i < 150; i++) {
    w.autoscaling.addLaunchConfiguration(REGION, { LaunchConfigurationName: `lc-${i}`, MetadataOptions: { HttpTokens: i % 3 === 0 ? 'optional' : 'required' } });
  }
  const create = await w.stack({ sdk: '3.996.0' }).create(synthesizeImds({ ...ENFORCE, readinessCheck: ReadinessCheckMode.ENFORCE_AND_REPORT }));
  expectSuccess(create, readiness({ launchTemplates: 125, launchConfigurations: 50, instances: fleet.candidates.length }));
  expect(create.invocation!.clients!['client-auto-scaling']?.version).toBe('3.995.0');
  expect(create.invocation!.clients!['client-ec2']?.version).toBe('3.996.0');
  // 125 matching template versions fit one page of 200; 150 configurations take two pages of 100; the candidates pages of 1,000.
  expect(create.ec2Calls.DescribeLaunchTemplateVersions).toBe(1);
  expect(create.autoscalingActions).toEqual(['DescribeLaunchConfigurations', 'DescribeLaunchConfigurations']);
  expect(create.ec2Calls.DescribeInstances).toBe(Math.ceil(fleet.candidates.length / 1000));
  expect(w.state().HttpTokensEnforced).toBe('enabled');
});
