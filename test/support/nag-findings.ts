/**
 * Runs cdk-nag rule packs over an app and collects what they report, through a
 * logger of our own (not the annotations), so tests and the benchmark can count
 * unsuppressed findings, suppressed findings and rules that failed to evaluate.
 */
import { App, Aspects, CfnResource, IAspect, Stack } from 'aws-cdk-lib';
import {
  AwsSolutionsChecks,
  HIPAASecurityChecks,
  INagLogger,
  NagLoggerComplianceData,
  NagLoggerErrorData,
  NagLoggerNonComplianceData,
  NagLoggerNotApplicableData,
  NagLoggerSuppressedData,
  NagLoggerSuppressedErrorData,
  NagPack,
  NagPackProps,
  NIST80053R4Checks,
  NIST80053R5Checks,
  PCIDSS321Checks,
  ServerlessChecks,
} from 'cdk-nag';

/**
 * The rule packs every construct of the library must pass without unsuppressed findings:
 * AwsSolutions (AWS's general best practices) and NIST 800-53 rev 5 (the
 * compliance pack regulated platform teams run; its Lambda, IAM and Logs rules
 * are the ones the HIPAA and PCI DSS packs apply too).
 */
export const NAG_PACKS: ReadonlyArray<new (props?: NagPackProps) => NagPack> = [AwsSolutionsChecks, NIST80053R5Checks];

/**
 * Every pack cdk-nag 2 ships: what test/nag.test.ts runs, since a user of the library may
 * turn on any of them (the benchmark keeps to NAG_PACKS, to compare with its alternatives).
 */
export const ALL_NAG_PACKS: ReadonlyArray<new (props?: NagPackProps) => NagPack> = [
  AwsSolutionsChecks,
  HIPAASecurityChecks,
  NIST80053R4Checks,
  NIST80053R5Checks,
  PCIDSS321Checks,
  ServerlessChecks,
];

/** One finding: the rule, the resource (construct path) and the finding id (e.g. `Resource::*`). */
export interface NagFinding {
  readonly pack: string;
  readonly ruleId: string;
  readonly findingId: string;
  readonly path: string;
  readonly stack: string;
  readonly level: string;
  readonly reason?: string;
}

/** What the packs reported over one app. */
export interface NagResult {
  readonly unsuppressed: NagFinding[];
  readonly suppressed: NagFinding[];
  /** Rules that threw while evaluating a resource (unsuppressed). */
  readonly errors: NagFinding[];
}

class CollectingLogger implements INagLogger {
  public readonly unsuppressed: NagFinding[] = [];
  public readonly suppressed: NagFinding[] = [];
  public readonly errors: NagFinding[] = [];

  onCompliance(_data: NagLoggerComplianceData): void {}
  onNotApplicable(_data: NagLoggerNotApplicableData): void {}
  onSuppressedError(_data: NagLoggerSuppressedErrorData): void {}
  onNonCompliance(data: NagLoggerNonComplianceData): void {
    this.unsuppressed.push(finding(data, data.findingId));
  }
  onSuppressed(data: NagLoggerSuppressedData): void {
    this.suppressed.push({ ...finding(data, data.findingId), reason: data.suppressionReason });
  }
  onError(data: NagLoggerErrorData): void {
    this.errors.push({ ...finding(data, ''), reason: data.errorMessage });
  }
}

function finding(data: NagLoggerNonComplianceData | NagLoggerErrorData, findingId: string): NagFinding {
  return {
    pack: data.nagPackName,
    ruleId: data.ruleId,
    findingId,
    path: data.resource.node.path,
    stack: Stack.of(data.resource).stackName,
    level: data.ruleLevel,
  };
}

/**
 * Adds the packs to the app as aspects (nothing is written to the assembly
 * beyond what the app writes anyway: no reports), synthesizes it and returns
 * the findings of every stack, nested stages included.
 */
export function runNag(app: App, packs: ReadonlyArray<new (props?: NagPackProps) => NagPack> = NAG_PACKS): NagResult {
  const logger = new CollectingLogger();
  for (const Pack of packs) {
    Aspects.of(app).add(new Pack({ reports: false, additionalLoggers: [logger] }) as IAspect);
  }
  app.synth();
  return { unsuppressed: logger.unsuppressed, suppressed: logger.suppressed, errors: logger.errors };
}

/** Every `cdk_nag` suppression written into the resources of the app, as `path rule [finding]` keys. */
export function declaredSuppressions(app: App): string[] {
  const keys: string[] = [];
  for (const c of app.node.findAll()) {
    if (!CfnResource.isCfnResource(c)) {
      continue;
    }
    const rules: Array<{ id: string; applies_to?: string[] }> = c.getMetadata('cdk_nag')?.rules_to_suppress ?? [];
    for (const rule of rules) {
      for (const applies of rule.applies_to ?? ['']) {
        keys.push(suppressionKey(c.node.path, rule.id, applies));
      }
    }
  }
  return keys.sort();
}

/** The key of a suppressed finding, comparable with `declaredSuppressions`. */
export function suppressionKey(path: string, ruleId: string, findingId: string): string {
  return `${path} ${ruleId}${findingId ? ` [${findingId}]` : ''}`;
}

/** One line per finding, for readable test failures. */
export function describeFindings(findings: NagFinding[]): string[] {
  return findings.map((f) => `${f.path} ${f.ruleId}${f.findingId ? ` [${f.findingId}]` : ''}${f.reason ? `: ${f.reason}` : ''}`);
}
