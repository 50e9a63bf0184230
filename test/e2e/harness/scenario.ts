/**
 * The entry point of the end-to-end scenarios: `scenario(name, async (w) => …)`
 * gives each scenario a fresh account (local EC2, SSM, CloudFormation,
 * CloudWatch and Auto Scaling endpoints) and ResponseURL endpoint, and
 * `w.stack()` a CloudFormation stand-in whose operations run the shipped
 * functions; `w.account(id)` starts another account for the scenarios that
 * span several (StackSets).
 *
 *   scenario('requires IMDSv2', async (w) => {
 *     const stack = w.stack();
 *     expectSuccess(await stack.create(synthesizeImds({ httpTokens: ImdsHttpTokens.REQUIRED })));
 *     expect(w.state()).toEqual({ HttpTokens: 'required' });
 *   });
 *
 * Every step is checked as Lambda and CloudFormation would (see
 * cloudformation.ts); the timing of every event is printed after the file.
 *
 * What the harness offers (details in cloudformation.ts, template.ts, eventbridge.ts):
 * - Endpoints per account: `w.ec2`, `w.ssm`, `w.cfn`, `w.cloudwatch`,
 *   `w.autoscaling` (the first account's; `w.account(id)` for others). Every
 *   invocation reaches them through AWS_ENDPOINT_URL_EC2, _SSM,
 *   _CLOUDFORMATION, _CLOUDWATCH and _AUTO_SCALING.
 * - One EventBridge endpoint per scenario, `w.eventbridge`
 *   (test/support/eventbridge-emulator.ts), for every account and Region
 *   (AWS_ENDPOINT_URL_EVENTBRIDGE): each account's default bus, and central
 *   buses of other accounts (`w.centralBus()` adds one with the hub's kind of
 *   policy: this organization, source cdk-imds-account-defaults). Every account
 *   the scenario starts is a member of E2E_ORGANIZATION_ID. What a function put:
 *   `w.events(busArn?)` (the first account's default bus in REGION by
 *   default), or `step.events` (delivered during that step, with their bus);
 *   every event of source cdk-imds-account-defaults delivered during a step is
 *   checked against findings-schema.json (the step fails otherwise).
 * - Templates: `synthesize((stack) => new ImdsInstanceUpgrade(stack, 'Upgrade', {...}))`;
 *   any Custom::<Name> backed by a function of the template runs that function
 *   (`t.resourceOf('Custom::ImdsInstanceUpgrade')` when a template holds
 *   several). A function's Environment.Variables reach it resolved (Ref
 *   AWS::StackId, …). ServiceTimeout is honoured. Rules and permissions are
 *   checked, not run.
 * - CloudFormation events: `stack.create(t)`, `update`, `delete`, `rollback`
 *   → OperationResult (a StepResult per event: answer, invocation, requests
 *   per service, `ec2Calls` by action).
 * - Outside CloudFormation, on a deployed stack (each → FunctionRun: the event,
 *   the invocation with its outcome, logs and handlerMs, requests per service):
 *     await stack.schedule()                       // the schedule rule fires
 *     await stack.putEvent(cloudTrailEvent({ account: stack.accountId, region: stack.region,
 *       callerArn: 'arn:aws:sts::123456789012:assumed-role/Admin/alice' }))  // → { matched, runs }
 *     await stack.invokeFunction(forged, { resourceType: 'Custom::ImdsInstanceUpgrade' })
 *     await stack.forgeEvent('Delete')             // a custom resource event CloudFormation did not send → ForgedRun (its answer)
 *     await stack.deliverLate(createStep)          // an earlier event again, after CloudFormation stopped waiting
 *   Each fails if the function PUTs to a ResponseURL, reaches beyond the
 *   loopback or the stack's Region, or ends other than `returned` (unless
 *   `outcomes` says so); a failed schedule or putEvent run is retried as Lambda
 *   would (`run.retries`, per the EventInvokeConfig). `stack.rules()` lists the rules as deployed (ARN,
 *   ScheduleExpression and its rate in minutes, EventPattern, targets).
 * - What CloudFormation showed while each event waited: `step.shown` (stack
 *   status, resource type, status and physical id); `stack.view(logicalId)` now.
 * - Interleaving: `w.ssm.holdAnswer(match, async () => …)` (any endpoint) holds
 *   the answer to the next matching request while other work runs (a race).
 * - The previous release's code: E2E_PREVIOUS_RELEASE_CODE=1 (template.ts).
 * - `w.stack({ slowestEventMs })` raises the per-invocation speed limit
 *   (SLOWEST_EVENT_MS) for runs over a large fleet.
 * - Timings: the table after the file has the calls per service and EC2 calls
 *   by action; E2E_TIMINGS_FILE=<path> appends every row as JSON (timings.ts).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Certificate, makeCertificate } from './certificate';
import { AccountEndpoints, CloudFormationStack, StepResult } from './cloudformation';
import { killAll } from './lambda';
import { SdkName } from './runtime';
import { ACCOUNT } from './template';
import { TimingRecorder } from './timings';
import { AutoScalingEmulator } from '../../support/autoscaling-emulator';
import { CloudFormationEmulator } from '../../support/cloudformation-emulator';
import { CloudWatchEmulator } from '../../support/cloudwatch-emulator';
import { Ec2Emulator, RegionState } from '../../support/ec2-emulator';
import { DeliveredEvent, EventBridgeEmulator } from '../../support/eventbridge-emulator';
import { ResponseEndpoint } from '../../support/response-endpoint';
import { SsmEmulator } from '../../support/ssm-emulator';

export const REGION = 'eu-west-1';

/** The organization every account of a scenario belongs to (aws:PrincipalOrgID of its callers). */
export const E2E_ORGANIZATION_ID = 'o-e2eimds0001';

/** The account and Region of the central bus `w.centralBus()` creates by default (a security account elsewhere). */
export const CENTRAL_ACCOUNT = '210987654321';
export const CENTRAL_REGION = 'us-east-1';

/** The source of every finding (written out here, not imported from the library, so a change breaks this suite). */
export const FINDINGS_SOURCE = 'cdk-imds-account-defaults';

/**
 * The resource policy of a central findings bus as the README's hub describes
 * it: events:PutEvents from any principal of the organization, for the
 * library's source only.
 */
export function centralBusPolicy(busArn: string, organizationId: string = E2E_ORGANIZATION_ID): object {
  return {
    Version: '2012-10-17',
    Statement: [{
      Sid: 'OrganizationPutsImdsFindings',
      Effect: 'Allow',
      Principal: '*',
      Action: 'events:PutEvents',
      Resource: busArn,
      Condition: { StringEquals: { 'aws:PrincipalOrgID': organizationId, 'events:source': FINDINGS_SOURCE } },
    }],
  };
}

export interface CentralBusOptions {
  /** @default CENTRAL_ACCOUNT */
  readonly account?: string;
  /** @default CENTRAL_REGION */
  readonly region?: string;
  /** @default 'imds-findings' */
  readonly name?: string;
  /** The bus's resource policy. @default centralBusPolicy(the bus's ARN) */
  readonly policy?: object;
}

/** Where the handler keeps its claims (documented in the README; fixed for good). */
export const CLAIMS_PATH = '/cdk-imds-account-defaults/claims';

/**
 * The SSM parameter that holds the claim of one resource (format 2, this
 * release): `<CLAIMS_PATH>/<stack uuid>-<logical id>`, the stack uuid being the
 * last part of the StackId. Written out here, not imported from the library, so
 * a change of the name breaks this suite.
 */
export function claimName(stackId: string, logicalResourceId: string): string {
  return `${CLAIMS_PATH}/${stackId.split('/').pop()}-${logicalResourceId}`;
}

/** The name of a claim of format 1 (releases up to 322c6d4): the first 40 hex of sha256(StackId|LogicalResourceId). */
export function legacyClaimName(stackId: string, logicalResourceId: string): string {
  return `${CLAIMS_PATH}/${crypto.createHash('sha256').update(`${stackId}|${logicalResourceId}`).digest('hex').slice(0, 40)}`;
}

/** A claim as SSM holds it: the parameter, and its value parsed. */
export interface StoredClaim {
  readonly name: string;
  readonly type: string;
  readonly tier: string;
  readonly format?: number;
  readonly stackId?: string;
  readonly stackName?: string;
  readonly logicalResourceId?: string;
  readonly fields?: Record<string, string | number>;
  /** Format 2: the resource has DeletionPolicy Retain. */
  readonly retained?: boolean;
  /** Format 1 only: the values before (no longer read). */
  readonly before?: Record<string, string | number>;
  /** The value when it is not JSON. */
  readonly raw?: string;
}

export interface StackRequest {
  /** @default 'current' */
  readonly sdk?: SdkName;
  /** @default REGION */
  readonly region?: string;
  /** @default 'ImdsE2e' */
  readonly name?: string;
  /** @default the scenario's first account */
  readonly account?: AccountEndpoints;
  /** The slowest a handler may be without injected faults, in ms. @default SLOWEST_EVENT_MS (cloudformation.ts) */
  readonly slowestEventMs?: number;
}

export interface World {
  /** The local EC2 endpoint of the scenario's first account: state, fault switches, recorded requests. */
  readonly ec2: Ec2Emulator;
  /** The local SSM endpoint of the first account: the claims. */
  readonly ssm: SsmEmulator;
  /** The local CloudFormation endpoint of the first account: what DescribeStackResource answers from. */
  readonly cfn: CloudFormationEmulator;
  /** The local CloudWatch endpoint of the first account: metric data to read (MetadataNoToken), metrics put. */
  readonly cloudwatch: CloudWatchEmulator;
  /** The local Auto Scaling endpoint of the first account: launch configurations. */
  readonly autoscaling: AutoScalingEmulator;
  /** The scenario's EventBridge endpoint: the buses of every account and Region, the events delivered to each. */
  readonly eventbridge: EventBridgeEmulator;
  /** The local ResponseURL endpoint of this scenario. */
  readonly responses: ResponseEndpoint;
  /** The first account (ACCOUNT). */
  readonly main: AccountEndpoints;
  /** Creates a central bus (by default CENTRAL_ACCOUNT's `imds-findings` in CENTRAL_REGION, with centralBusPolicy); returns its ARN. */
  centralBus(options?: CentralBusOptions): string;
  /** The events delivered to a bus (by ARN; the first account's default bus in REGION by default), oldest first. */
  events(busArn?: string): DeliveredEvent[];
  /** Starts another account (its own EC2, SSM, CloudFormation, CloudWatch and Auto Scaling endpoints), or returns it if started. */
  account(id: string): Promise<AccountEndpoints>;
  /** A new stack (not yet created); by default ImdsE2e in REGION of the first account, run with the current SDK. */
  stack(options?: StackRequest): CloudFormationStack;
  /** The account-level state EC2 holds for a Region (REGION of the first account by default). */
  state(region?: string, account?: AccountEndpoints): RegionState;
  /** The claims SSM holds under CLAIMS_PATH in a Region (REGION of the first account by default), by stack name and logical id. */
  claims(region?: string, account?: AccountEndpoints): StoredClaim[];
}

export interface ScenarioOptions {
  /**
   * Runs alongside the file's other scenarios instead of after them: for the
   * slow ones (injected faults, the hanging endpoint), which mostly wait.
   */
  readonly concurrent?: boolean;
  /** @default 60_000 */
  readonly timeoutMs?: number;
}

const timings = new TimingRecorder();
let certificate: { dir: string; cert: Certificate } | undefined;
let registered = false;

/** Declares one scenario (a jest test). */
export function scenario(name: string, body: (w: World) => Promise<void>, options: ScenarioOptions = {}): void {
  registerHooks();
  const run = async () => {
    const accounts = new Map<string, Promise<AccountEndpoints>>();
    const eventbridge = await EventBridgeEmulator.start();
    const account = (id: string) => {
      if (!accounts.has(id)) {
        eventbridge.setOrganization(E2E_ORGANIZATION_ID, [id]);
        accounts.set(id, startAccount(id));
      }
      return accounts.get(id)!;
    };
    const responses = await ResponseEndpoint.start(sharedCertificate().cert);
    try {
      const main = await account(ACCOUNT);
      await body({
        ec2: main.ec2,
        ssm: main.ssm,
        cfn: main.cfn,
        cloudwatch: main.cloudwatch,
        autoscaling: main.autoscaling,
        eventbridge,
        centralBus: (o = {}) => {
          const region = o.region ?? CENTRAL_REGION;
          const busAccount = o.account ?? CENTRAL_ACCOUNT;
          const arn = EventBridgeEmulator.busArn(busAccount, region, o.name ?? 'imds-findings');
          eventbridge.setOrganization(E2E_ORGANIZATION_ID, [busAccount]);
          return eventbridge.addBus({ account: busAccount, region, name: o.name ?? 'imds-findings', policy: o.policy ?? centralBusPolicy(arn) });
        },
        events: (busArn = EventBridgeEmulator.busArn(main.id, REGION)) => eventbridge.events(busArn),
        responses,
        main,
        account,
        stack: (o = {}) => new CloudFormationStack({
          scenario: name,
          account: o.account ?? main,
          responses,
          caFile: sharedCertificate().cert.certFile,
          timings,
          region: o.region ?? REGION,
          sdk: o.sdk ?? 'current',
          eventbridge,
          stackName: o.name,
          slowestEventMs: o.slowestEventMs,
        }),
        state: (region = REGION, a = main) => a.ec2.state(region),
        claims: (region = REGION, a = main) => readClaims(a.ssm, region),
      });
    } finally {
      const started = await Promise.allSettled(accounts.values());
      await Promise.all([
        responses.stop(),
        eventbridge.stop(),
        ...started.flatMap((a) => (a.status === 'fulfilled'
          ? [a.value.ec2, a.value.ssm, a.value.cfn, a.value.cloudwatch, a.value.autoscaling].map((e) => e.stop())
          : [])),
      ]);
    }
  };
  (options.concurrent ? test.concurrent : test)(name, run, options.timeoutMs ?? 60_000);
}

async function startAccount(id: string): Promise<AccountEndpoints> {
  const [ec2, ssm, cfn, cloudwatch, autoscaling] = await Promise.all([
    Ec2Emulator.start(), SsmEmulator.start(), CloudFormationEmulator.start(), CloudWatchEmulator.start(), AutoScalingEmulator.start(),
  ]);
  return { id, ec2, ssm, cfn, cloudwatch, autoscaling };
}

function readClaims(ssm: SsmEmulator, region: string): StoredClaim[] {
  const claims: StoredClaim[] = [];
  for (const p of ssm.parameters(region).values()) {
    if (!p.Name.startsWith(`${CLAIMS_PATH}/`)) {
      continue;
    }
    let parsed: any;
    try {
      parsed = JSON.parse(p.Value);
    } catch {
      claims.push({ name: p.Name, type: p.Type, tier: p.Tier, raw: p.Value });
      continue;
    }
    claims.push({ ...parsed, name: p.Name, type: p.Type, tier: p.Tier });
  }
  const key = (c: StoredClaim) => `${c.stackName ?? ''}/${c.logicalResourceId ?? ''}/${c.name}`;
  return claims.sort((a, b) => key(a).localeCompare(key(b)));
}

function sharedCertificate(): { dir: string; cert: Certificate } {
  if (!certificate) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imds-e2e-cert-'));
    certificate = { dir, cert: makeCertificate(dir) };
  }
  return certificate;
}

function registerHooks(): void {
  if (registered) {
    return;
  }
  registered = true;
  afterAll(() => {
    killAll();
    if (certificate) {
      fs.rmSync(certificate.dir, { recursive: true, force: true });
    }
    const file = path.basename(expect.getState().testPath ?? 'e2e');
    console.log(timings.format(`End-to-end events of ${file}`));
  });
}

/** Expects a SUCCESS answer, with Data containing `data` when given. */
export function expectSuccess(result: StepResult, data?: Record<string, string>): void {
  expect({ step: result.step, status: result.answer?.Status, reason: result.answer?.Reason }).toEqual({ step: result.step, status: 'SUCCESS', reason: undefined });
  if (data) {
    expect(result.answer!.Data).toEqual(expect.objectContaining(data));
  }
}

/** Expects a FAILED answer whose Reason matches. */
export function expectFailed(result: StepResult, reason: RegExp): void {
  expect(result.answer?.Status).toBe('FAILED');
  expect(result.answer!.Reason).toMatch(reason);
}
