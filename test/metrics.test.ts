/**
 * The metrics as methods: `ImdsMetrics` (any account and Region, the constants of
 * the names) and `ImdsAccountDefaults.metric*()` (its own metrics, with the
 * period of its drift guard, refusing a metric of a feature that is off).
 * `ImdsInstanceUpgrade`'s methods are in imds-instance-upgrade.test.ts, the
 * StackSet's `metricForMember` in imds-account-defaults-stack-set.test.ts.
 */
import { App, CfnParameter, Duration, Stack, aws_cloudwatch as cloudwatch } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import {
  DriftGuardMode,
  ImdsAccountDefaults,
  ImdsAccountDefaultsProps,
  ImdsHttpTokens,
  ImdsMetrics,
} from '../src';
import {
  CLAIM_PROBLEM_METRIC, DRIFT_CHECK_SKIPPED_METRIC, DRIFT_DETECTED_METRIC, DRIFT_REAPPLIED_METRIC, FINDINGS_NOT_PUT_METRIC,
  METRICS_NAMESPACE, UNCONFIRMED_EVENT_METRIC, UPGRADE_METRIC_NAMES,
} from '../src/private/properties';

const NAMESPACE = 'CdkImdsAccountDefaults';

/** Every name the library publishes, in the order the errors list them. */
const ALL_NAMES = [
  'DriftDetected', 'DriftReapplied', 'DriftChecksSkipped', 'UnconfirmedEvents', 'ClaimProblems', 'FindingsNotPut',
  'InstancesAllowingImdsv1', 'InstancesUpgraded', 'InstancesInUse', 'InstancesExcluded', 'InstancesUnknown', 'InstancesFailed',
  'InstancesWithTooLittleData', 'InstancesWithRejectedImdsv1Calls', 'InstancesRestoredToOptional', 'InstancesRestoreRefused',
  'AutoScalingGroupsAllowingImdsv1',
];
const ACCOUNT_DEFAULTS_NAMES = ['DriftDetected', 'DriftReapplied', 'DriftChecksSkipped', 'UnconfirmedEvents', 'ClaimProblems', 'FindingsNotPut'];

/** What a metric says, in one object (undefined fields left out by toEqual). */
function describeMetric(metric: cloudwatch.Metric) {
  return {
    namespace: metric.namespace,
    metricName: metric.metricName,
    statistic: metric.statistic,
    periodSeconds: metric.period.toSeconds(),
    dimensions: metric.dimensions,
    account: metric.account,
    region: metric.region,
  };
}

function expected(metricName: string, statistic: string, period: Duration, where: { account?: string; region?: string } = {}) {
  const dimensions = undefined;
  return { namespace: NAMESPACE, metricName, statistic, periodSeconds: period.toSeconds(), dimensions, account: where.account, region: where.region };
}

function withDefaults(props: Partial<ImdsAccountDefaultsProps> = {}) {
  const app = new App();
  const stack = new Stack(app, 'Stack');
  const imds = new ImdsAccountDefaults(stack, 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED, ...props });
  return { stack, imds };
}

describe('ImdsMetrics', () => {
  test('the namespace and the names are frozen (users alarm on them) and are what the handlers put', () => {
    expect(ImdsMetrics.NAMESPACE).toBe(NAMESPACE);
    expect(METRICS_NAMESPACE).toBe(NAMESPACE);
    expect({
      DRIFT_DETECTED: ImdsMetrics.DRIFT_DETECTED,
      DRIFT_REAPPLIED: ImdsMetrics.DRIFT_REAPPLIED,
      DRIFT_CHECKS_SKIPPED: ImdsMetrics.DRIFT_CHECKS_SKIPPED,
      UNCONFIRMED_EVENTS: ImdsMetrics.UNCONFIRMED_EVENTS,
      CLAIM_PROBLEMS: ImdsMetrics.CLAIM_PROBLEMS,
      FINDINGS_NOT_PUT: ImdsMetrics.FINDINGS_NOT_PUT,
      INSTANCES_ALLOWING_IMDSV1: ImdsMetrics.INSTANCES_ALLOWING_IMDSV1,
      INSTANCES_UPGRADED: ImdsMetrics.INSTANCES_UPGRADED,
      INSTANCES_IN_USE: ImdsMetrics.INSTANCES_IN_USE,
      INSTANCES_EXCLUDED: ImdsMetrics.INSTANCES_EXCLUDED,
      INSTANCES_UNKNOWN: ImdsMetrics.INSTANCES_UNKNOWN,
      INSTANCES_FAILED: ImdsMetrics.INSTANCES_FAILED,
      INSTANCES_WITH_TOO_LITTLE_DATA: ImdsMetrics.INSTANCES_WITH_TOO_LITTLE_DATA,
      INSTANCES_WITH_REJECTED_IMDSV1_CALLS: ImdsMetrics.INSTANCES_WITH_REJECTED_IMDSV1_CALLS,
      INSTANCES_RESTORED_TO_OPTIONAL: ImdsMetrics.INSTANCES_RESTORED_TO_OPTIONAL,
      INSTANCES_RESTORE_REFUSED: ImdsMetrics.INSTANCES_RESTORE_REFUSED,
      AUTO_SCALING_GROUPS_ALLOWING_IMDSV1: ImdsMetrics.AUTO_SCALING_GROUPS_ALLOWING_IMDSV1,
    }).toEqual({
      DRIFT_DETECTED: 'DriftDetected',
      DRIFT_REAPPLIED: 'DriftReapplied',
      DRIFT_CHECKS_SKIPPED: 'DriftChecksSkipped',
      UNCONFIRMED_EVENTS: 'UnconfirmedEvents',
      CLAIM_PROBLEMS: 'ClaimProblems',
      FINDINGS_NOT_PUT: 'FindingsNotPut',
      INSTANCES_ALLOWING_IMDSV1: 'InstancesAllowingImdsv1',
      INSTANCES_UPGRADED: 'InstancesUpgraded',
      INSTANCES_IN_USE: 'InstancesInUse',
      INSTANCES_EXCLUDED: 'InstancesExcluded',
      INSTANCES_UNKNOWN: 'InstancesUnknown',
      INSTANCES_FAILED: 'InstancesFailed',
      INSTANCES_WITH_TOO_LITTLE_DATA: 'InstancesWithTooLittleData',
      INSTANCES_WITH_REJECTED_IMDSV1_CALLS: 'InstancesWithRejectedImdsv1Calls',
      INSTANCES_RESTORED_TO_OPTIONAL: 'InstancesRestoredToOptional',
      INSTANCES_RESTORE_REFUSED: 'InstancesRestoreRefused',
      AUTO_SCALING_GROUPS_ALLOWING_IMDSV1: 'AutoScalingGroupsAllowingImdsv1',
    });
    // The handlers' side (src/private/properties.ts).
    const handlerNames = [
      DRIFT_DETECTED_METRIC, DRIFT_REAPPLIED_METRIC, DRIFT_CHECK_SKIPPED_METRIC, UNCONFIRMED_EVENT_METRIC, CLAIM_PROBLEM_METRIC,
      FINDINGS_NOT_PUT_METRIC, ...Object.keys(UPGRADE_METRIC_NAMES),
    ];
    expect(handlerNames).toEqual(ALL_NAMES);
  });

  test.each<[string, string, Duration]>([
    [ImdsMetrics.DRIFT_DETECTED, 'Sum', Duration.hours(1)],
    [ImdsMetrics.DRIFT_REAPPLIED, 'Sum', Duration.hours(1)],
    [ImdsMetrics.DRIFT_CHECKS_SKIPPED, 'Sum', Duration.hours(1)],
    [ImdsMetrics.UNCONFIRMED_EVENTS, 'Sum', Duration.minutes(5)],
    [ImdsMetrics.CLAIM_PROBLEMS, 'Sum', Duration.minutes(5)],
    [ImdsMetrics.FINDINGS_NOT_PUT, 'Sum', Duration.minutes(5)],
    [ImdsMetrics.INSTANCES_ALLOWING_IMDSV1, 'Maximum', Duration.days(1)],
    [ImdsMetrics.INSTANCES_UPGRADED, 'Maximum', Duration.days(1)],
    [ImdsMetrics.INSTANCES_IN_USE, 'Maximum', Duration.days(1)],
    [ImdsMetrics.INSTANCES_EXCLUDED, 'Maximum', Duration.days(1)],
    [ImdsMetrics.INSTANCES_UNKNOWN, 'Maximum', Duration.days(1)],
    [ImdsMetrics.INSTANCES_FAILED, 'Maximum', Duration.days(1)],
  ])('metric(%s): the namespace, no dimensions, statistic %s, the feature\'s default interval as period', (name, statistic, period) => {
    expect(describeMetric(ImdsMetrics.metric(name))).toEqual(expected(name, statistic, period));
  });

  test('every name the library publishes has a metric', () => {
    expect(ALL_NAMES.map((name) => ImdsMetrics.metric(name).metricName)).toEqual(ALL_NAMES);
  });

  test('account and region build a member account\'s metric (a StackSet\'s member, on a monitoring account\'s dashboard)', () => {
    const metric = ImdsMetrics.metric(ImdsMetrics.DRIFT_DETECTED, { account: '210987654321', region: 'us-east-1' });
    expect(describeMetric(metric)).toEqual(expected('DriftDetected', 'Sum', Duration.hours(1), { account: '210987654321', region: 'us-east-1' }));
    expect(metric.toMetricConfig().metricStat).toMatchObject({ account: '210987654321', region: 'us-east-1', namespace: NAMESPACE, metricName: 'DriftDetected' });

    // On a dashboard of another account: the widget names the member's account and Region.
    const stack = new Stack(new App(), 'Monitoring', { env: { account: '123456789012', region: 'eu-west-1' } });
    new cloudwatch.Dashboard(stack, 'Dashboard', { widgets: [[new cloudwatch.GraphWidget({ left: [metric] })]] });
    const dashboard = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'))[0];
    const [, parts] = stack.resolve(dashboard.Properties.DashboardBody)['Fn::Join'];
    const body = JSON.parse(parts.map((p: unknown) => typeof p === 'string' ? p : 'eu-west-1').join(''));
    expect(body.widgets[0].properties.metrics).toEqual([[NAMESPACE, 'DriftDetected', { accountId: '210987654321', region: 'us-east-1', period: 3600, stat: 'Sum' }]]);
  });

  test('props override the defaults (period, statistic, label, unit)', () => {
    const metric = ImdsMetrics.metric(ImdsMetrics.INSTANCES_FAILED, {
      period: Duration.hours(6), statistic: cloudwatch.Stats.SUM, label: 'Failed upgrades', unit: cloudwatch.Unit.COUNT,
    });
    expect(describeMetric(metric)).toEqual(expected('InstancesFailed', 'Sum', Duration.hours(6)));
    expect(metric.label).toBe('Failed upgrades');
    expect(metric.unit).toBe(cloudwatch.Unit.COUNT);
  });

  test.each(['DriftDetectedd', 'driftdetected', 'Drift Detected', '', 'CdkImdsAccountDefaults', 'Candidates'])('an unknown name (%j) is refused, listing the names', (name) => {
    expect(() => ImdsMetrics.metric(name)).toThrow(
      `ImdsMetrics.metric: ${JSON.stringify(name)} is not a metric the library publishes; give one of ${ALL_NAMES.join(', ')}`);
  });

  test('an alarm on it: the namespace, the name, the statistic and the period, no dimensions', () => {
    const stack = new Stack(new App(), 'Stack');
    new cloudwatch.Alarm(stack, 'Unconfirmed', { metric: ImdsMetrics.metric(ImdsMetrics.UNCONFIRMED_EVENTS), threshold: 1, evaluationPeriods: 1 });
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: NAMESPACE, MetricName: 'UnconfirmedEvents', Statistic: 'Sum', Period: 300, Dimensions: Match.absent(),
    });
  });
});

describe('ImdsAccountDefaults metric methods', () => {
  describe('the drift guard\'s metrics', () => {
    test.each<[string, (imds: ImdsAccountDefaults) => cloudwatch.Metric, string]>([
      ['metricDriftDetected', (imds) => imds.metricDriftDetected(), 'DriftDetected'],
      ['metricDriftReapplied', (imds) => imds.metricDriftReapplied(), 'DriftReapplied'],
      ['metricDriftChecksSkipped', (imds) => imds.metricDriftChecksSkipped(), 'DriftChecksSkipped'],
    ])('%s: the namespace, the name, Sum, no dimensions, a period of the default driftCheckInterval (1 hour)', (_, method, name) => {
      const { imds } = withDefaults({ driftGuard: DriftGuardMode.REAPPLY });
      expect(describeMetric(method(imds))).toEqual(expected(name, 'Sum', Duration.hours(1)));
    });

    test.each([Duration.minutes(1), Duration.minutes(15), Duration.hours(6), Duration.days(1)])('the period follows driftCheckInterval (%s)', (driftCheckInterval) => {
      const { imds } = withDefaults({ driftGuard: DriftGuardMode.REAPPLY, driftCheckInterval });
      for (const metric of [imds.metricDriftDetected(), imds.metricDriftReapplied(), imds.metricDriftChecksSkipped()]) {
        expect(metric.period.toSeconds()).toBe(driftCheckInterval.toSeconds());
      }
    });

    test('in REPORT_ONLY mode, DriftDetected and DriftChecksSkipped are published', () => {
      const { imds } = withDefaults({ driftGuard: DriftGuardMode.REPORT_ONLY, driftCheckInterval: Duration.minutes(30) });
      expect(describeMetric(imds.metricDriftDetected())).toEqual(expected('DriftDetected', 'Sum', Duration.minutes(30)));
      expect(describeMetric(imds.metricDriftChecksSkipped())).toEqual(expected('DriftChecksSkipped', 'Sum', Duration.minutes(30)));
    });

    test('in REPORT_ONLY mode, metricDriftReapplied throws: that guard changes nothing', () => {
      const { imds } = withDefaults({ driftGuard: DriftGuardMode.REPORT_ONLY });
      const message = '[Stack/Imds] DriftReapplied is published only by a drift guard in DriftGuardMode.REAPPLY; this one is REPORT_ONLY, which changes nothing: alarm on DriftDetected';
      expect(() => imds.metricDriftReapplied()).toThrow(message);
      expect(() => imds.metric(ImdsMetrics.DRIFT_REAPPLIED)).toThrow(message);
    });

    test.each<[string, (imds: ImdsAccountDefaults) => cloudwatch.Metric, string]>([
      ['metricDriftDetected', (imds) => imds.metricDriftDetected(), 'DriftDetected'],
      ['metricDriftReapplied', (imds) => imds.metricDriftReapplied(), 'DriftReapplied'],
      ['metricDriftChecksSkipped', (imds) => imds.metricDriftChecksSkipped(), 'DriftChecksSkipped'],
      ['metric(DriftDetected)', (imds) => imds.metric('DriftDetected'), 'DriftDetected'],
    ])('without driftGuard, %s throws, naming the path, the metric and the prop to set', (_, method, name) => {
      const { imds } = withDefaults();
      expect(() => method(imds)).toThrow(
        `[Stack/Imds] ${name} is published only by the drift guard, which is off: set driftGuard (DriftGuardMode.REAPPLY or DriftGuardMode.REPORT_ONLY) to publish it`);
    });

    test('props override the defaults', () => {
      const { imds } = withDefaults({ driftGuard: DriftGuardMode.REAPPLY, driftCheckInterval: Duration.minutes(15) });
      const metric = imds.metricDriftDetected({ period: Duration.hours(1), statistic: cloudwatch.Stats.MAXIMUM, label: 'Drift' });
      expect(describeMetric(metric)).toEqual(expected('DriftDetected', 'Maximum', Duration.hours(1)));
      expect(metric.label).toBe('Drift');
    });

    test('an alarm on the method\'s metric: the period is the interval', () => {
      const { stack, imds } = withDefaults({ driftGuard: DriftGuardMode.REAPPLY, driftCheckInterval: Duration.minutes(15) });
      imds.metricDriftDetected().createAlarm(stack, 'Drift', { threshold: 1, evaluationPeriods: 1 });
      Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: NAMESPACE, MetricName: 'DriftDetected', Statistic: 'Sum', Period: 900, Dimensions: Match.absent(),
      });
    });

    test('with an interval from a parameter, a period given in props is used', () => {
      const app = new App();
      const stack = new Stack(app, 'Stack');
      const minutes = new CfnParameter(stack, 'Minutes', { type: 'Number' }).valueAsNumber;
      const imds = new ImdsAccountDefaults(stack, 'Imds', {
        httpTokens: ImdsHttpTokens.REQUIRED, driftGuard: DriftGuardMode.REAPPLY, driftCheckInterval: Duration.minutes(minutes),
      });
      expect(describeMetric(imds.metricDriftDetected({ period: Duration.minutes(5) }))).toEqual(expected('DriftDetected', 'Sum', Duration.minutes(5)));
    });

    test('with an interval from a parameter and no period, the method says to give one', () => {
      const app = new App();
      const stack = new Stack(app, 'Stack');
      const minutes = new CfnParameter(stack, 'Minutes', { type: 'Number' }).valueAsNumber;
      const imds = new ImdsAccountDefaults(stack, 'Imds', {
        httpTokens: ImdsHttpTokens.REQUIRED, driftGuard: DriftGuardMode.REAPPLY, driftCheckInterval: Duration.minutes(minutes),
      });
      expect(() => imds.metricDriftDetected()).toThrow(/^\[Stack\/Imds\] DriftDetected: driftCheckInterval is a token \(.+\), and a metric's period must be known at synth; give the period: metricDriftDetected\(\{ period \}\)$/);
      expect(() => imds.metricDriftChecksSkipped()).toThrow(/give the period: metricDriftChecksSkipped/);
      // The security warnings do not follow the interval: no period needed.
      expect(imds.metricUnconfirmedEvents().period.toMinutes()).toBe(5);
    });
  });

  describe('the security warnings', () => {
    test.each<[string, (imds: ImdsAccountDefaults) => cloudwatch.Metric, string]>([
      ['metricUnconfirmedEvents', (imds) => imds.metricUnconfirmedEvents(), 'UnconfirmedEvents'],
      ['metricClaimProblems', (imds) => imds.metricClaimProblems(), 'ClaimProblems'],
      ['metricFindingsNotPut', (imds) => imds.metricFindingsNotPut(), 'FindingsNotPut'],
    ])('%s: the namespace, the name, Sum, no dimensions, 5 minutes; without a drift guard too', (_, method, name) => {
      expect(describeMetric(method(withDefaults().imds))).toEqual(expected(name, 'Sum', Duration.minutes(5)));
    });

    test('their period does not follow driftCheckInterval', () => {
      const { imds } = withDefaults({ driftGuard: DriftGuardMode.REAPPLY, driftCheckInterval: Duration.minutes(30) });
      expect(imds.metricUnconfirmedEvents().period.toSeconds()).toBe(300);
      expect(imds.metricClaimProblems().period.toSeconds()).toBe(300);
    });

    test('props override the defaults', () => {
      const metric = withDefaults().imds.metricClaimProblems({ period: Duration.minutes(1) });
      expect(describeMetric(metric)).toEqual(expected('ClaimProblems', 'Sum', Duration.minutes(1)));
    });
  });

  describe('metric(name)', () => {
    test('the same metric as each method, by name', () => {
      const { imds } = withDefaults({ driftGuard: DriftGuardMode.REAPPLY, driftCheckInterval: Duration.minutes(10) });
      const methods: Record<string, () => cloudwatch.Metric> = {
        DriftDetected: () => imds.metricDriftDetected(),
        DriftReapplied: () => imds.metricDriftReapplied(),
        DriftChecksSkipped: () => imds.metricDriftChecksSkipped(),
        UnconfirmedEvents: () => imds.metricUnconfirmedEvents(),
        ClaimProblems: () => imds.metricClaimProblems(),
        FindingsNotPut: () => imds.metricFindingsNotPut(),
      };
      expect(Object.keys(methods)).toEqual(ACCOUNT_DEFAULTS_NAMES);
      for (const [name, method] of Object.entries(methods)) {
        expect(describeMetric(imds.metric(name))).toEqual(describeMetric(method()));
      }
      expect(imds.metric(ImdsMetrics.DRIFT_DETECTED).period.toSeconds()).toBe(600);
      expect(imds.metric(ImdsMetrics.CLAIM_PROBLEMS).period.toSeconds()).toBe(300);
    });

    test('passes props on', () => {
      const { imds } = withDefaults();
      const metric = imds.metric(ImdsMetrics.UNCONFIRMED_EVENTS, { account: '210987654321', region: 'us-east-1', statistic: cloudwatch.Stats.SAMPLE_COUNT });
      expect(describeMetric(metric)).toEqual(expected('UnconfirmedEvents', 'SampleCount', Duration.minutes(5), { account: '210987654321', region: 'us-east-1' }));
    });

    test.each([
      ImdsMetrics.INSTANCES_ALLOWING_IMDSV1, ImdsMetrics.INSTANCES_UPGRADED, ImdsMetrics.INSTANCES_FAILED, 'Nope', 'driftdetected', '',
    ])('a metric this construct does not publish (%j) is refused, naming the path and listing its names', (name) => {
      const { imds } = withDefaults({ driftGuard: DriftGuardMode.REAPPLY });
      expect(() => imds.metric(name)).toThrow(
        `[Stack/Imds] metric: ${JSON.stringify(name)} is not a metric this construct publishes; give one of ${ACCOUNT_DEFAULTS_NAMES.join(', ')}`);
    });
  });
});
