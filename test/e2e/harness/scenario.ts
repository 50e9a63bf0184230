/**
 * The entry point of the end-to-end scenarios: `scenario(name, async (w) => …)`
 * gives each scenario a fresh local EC2 endpoint and ResponseURL endpoint, and
 * `w.stack()` a CloudFormation stand-in whose steps run the shipped handler.
 *
 *   scenario('requires IMDSv2', async (w) => {
 *     const stack = w.stack();
 *     expectSuccess(await stack.create(synthesizeImds({ httpTokens: HttpTokens.REQUIRED })));
 *     expect(w.state()).toEqual({ HttpTokens: 'required' });
 *   });
 *
 * Every step is checked as Lambda and CloudFormation would (see
 * cloudformation.ts); the timing of every event is printed after the file.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Certificate, makeCertificate } from './certificate';
import { CloudFormationStack, StepResult } from './cloudformation';
import { killAll } from './lambda';
import { SdkName } from './runtime';
import { TimingRecorder } from './timings';
import { Ec2Emulator, RegionState } from '../../support/ec2-emulator';
import { ResponseEndpoint } from '../../support/response-endpoint';

export const REGION = 'eu-west-1';

export interface World {
  /** The local EC2 endpoint of this scenario: state, fault switches, recorded requests. */
  readonly ec2: Ec2Emulator;
  /** The local ResponseURL endpoint of this scenario. */
  readonly responses: ResponseEndpoint;
  /** A new stack; by default in REGION, run with the current client-ec2. */
  stack(options?: { readonly sdk?: SdkName; readonly region?: string }): CloudFormationStack;
  /** The account-level state EC2 holds for a Region (REGION by default). */
  state(region?: string): RegionState;
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
    const ec2 = await Ec2Emulator.start();
    const responses = await ResponseEndpoint.start(sharedCertificate().cert);
    try {
      await body({
        ec2,
        responses,
        stack: (o = {}) => new CloudFormationStack({
          scenario: name,
          ec2,
          responses,
          caFile: sharedCertificate().cert.certFile,
          timings,
          region: o.region ?? REGION,
          sdk: o.sdk ?? 'current',
        }),
        state: (region = REGION) => ec2.state(region),
      });
    } finally {
      await Promise.all([ec2.stop(), responses.stop()]);
    }
  };
  (options.concurrent ? test.concurrent : test)(name, run, options.timeoutMs ?? 60_000);
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
