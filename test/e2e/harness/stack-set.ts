/**
 * A StackSet's stack instances run as member stacks of the scenario's accounts:
 * the stack-instance operations of the provider model
 * (test/support/stack-set-provider.ts) become `create`, `update` and `delete`
 * of CloudFormationStack stand-ins (cloudformation.ts), one stack per account
 * and Region, with the StackSet's TemplateBody and the instance's parameters,
 * so the shipped inline code runs each of them against the emulators.
 *
 *   const v1 = synthesizeStackSetResource((stack) => new ImdsAccountDefaultsStackSet(stack, 'Imds', { ... }));
 *   const members = new MemberStacks(w, v1.properties.StackSetName!);
 *   const watch = await EnforcementWatch.start(w, ORG.memberAccounts, REGIONS, managedFields(v1.properties));
 *   await members.runAll(planCreate(v1.properties, ORG).operations, (step) => watch.check(step.label));
 *
 * As StackSets does: a member stack is named `StackSet-<StackSetName>-<uuid>`
 * (a new one for every new instance); an update whose template and parameters
 * are those deployed changes nothing (the stack has no changes; StackSets counts
 * the instance as updated) and sends no event; a delete deletes the stack
 * (RetainStacks false), so a resource with DeletionPolicy Retain or RetainExceptOnCreate gets no Delete.
 * Every member stack must end in a COMPLETE status: the model has no failed
 * instances (a failure throws, naming the operation).
 */
import * as crypto from 'crypto';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CloudFormationStack, OperationResult } from './cloudformation';
import { World } from './scenario';
import { readTemplate } from './template';
import { RegionState } from '../../support/ec2-emulator';
import { StackInstanceOperation, StackSetProperties } from '../../support/stack-set-provider';

/** The AWS::CloudFormation::StackSet resource a construct synthesized: its properties, resolved, and its DeletionPolicy. */
export interface SynthesizedStackSet {
  readonly logicalId: string;
  readonly properties: StackSetProperties;
  readonly deletionPolicy?: string;
  /** The DeletionPolicy of the member custom resource in the TemplateBody (the member removal policy). */
  readonly memberDeletionPolicy?: string;
}

/**
 * Synthesizes a stack holding exactly one AWS::CloudFormation::StackSet (built
 * through the public API by `build`) and returns that resource as the provider
 * receives it.
 */
export function synthesizeStackSetResource(build: (stack: Stack) => void): SynthesizedStackSet {
  const stack = new Stack(new App(), 'Org');
  build(stack);
  const resources = Template.fromStack(stack).findResources('AWS::CloudFormation::StackSet');
  const entries = Object.entries(resources);
  if (entries.length !== 1) {
    throw new Error(`expected one AWS::CloudFormation::StackSet, found ${entries.length}`);
  }
  const [logicalId, resource] = entries[0];
  const body = JSON.parse(resource.Properties.TemplateBody);
  const members = Object.values<any>(body.Resources).filter((r) => r.Type === 'Custom::ImdsAccountDefaults');
  return { logicalId, properties: resource.Properties, deletionPolicy: resource.DeletionPolicy, memberDeletionPolicy: members[0]?.DeletionPolicy };
}

/** The settings a StackSet manages: its parameters (every setting is one, named as EC2 names the field). */
export function managedFields(properties: StackSetProperties): Array<keyof RegionState> {
  return (properties.Parameters ?? []).map((p) => p.ParameterKey as keyof RegionState);
}

/** One stack-instance operation as the member stacks ran it. */
export interface MemberStep {
  readonly op: StackInstanceOperation;
  /** `<kind> <account> <region> (<provider action>)`. */
  readonly label: string;
  /** The member stack's operation; undefined when nothing was sent (`skipped`). */
  readonly result?: OperationResult;
  /** Why no stack operation ran: an update without changes. */
  readonly skipped?: string;
  /** The member stack (its account, Region, StackId). */
  readonly stack: CloudFormationStack;
}

interface Member {
  readonly stack: CloudFormationStack;
  templateBody: string;
  parameters: Record<string, string>;
}

/** The member stacks of one StackSet across the scenario's accounts. */
export class MemberStacks {
  /** Every member stack created, in order (deleted ones included). */
  public readonly created: CloudFormationStack[] = [];
  private readonly live = new Map<string, Member>();

  constructor(private readonly w: World, private readonly stackSetName: string) {}

  /** The live member stack of an account and Region, if any. */
  public stackOf(account: string, region: string): CloudFormationStack | undefined {
    return this.live.get(`${account}/${region}`)?.stack;
  }

  /** Runs one stack-instance operation. */
  public async run(op: StackInstanceOperation): Promise<MemberStep> {
    const key = `${op.account}/${op.region}`;
    const label = `${op.kind} ${op.account} ${op.region} (${op.action})`;
    const existing = this.live.get(key);
    const fail = (problem: string): never => {
      throw new Error(`${label}: ${problem}`);
    };
    if (op.kind === 'delete') {
      if (!existing) {
        return fail('no member stack to delete');
      }
      const result = await existing.stack.delete();
      this.live.delete(key);
      if (result.stackStatus !== 'DELETE_COMPLETE') {
        fail(`the member stack ended ${result.stackStatus}: ${result.steps.map((s) => `${s.step} ${s.answer?.Status} ${s.answer?.Reason ?? ''}`).join('; ')}`);
      }
      return { op, label, result, stack: existing.stack };
    }
    if (!op.templateBody || !op.parameters) {
      return fail('a create or update without TemplateBody or parameters');
    }
    const template = readTemplate(JSON.parse(op.templateBody));
    if (op.kind === 'create') {
      if (existing) {
        fail('the member stack exists already');
      }
      const account = await this.w.account(op.account);
      const stack = this.w.stack({ account, region: op.region, name: `StackSet-${this.stackSetName}-${crypto.randomUUID()}` });
      this.created.push(stack);
      const result = await stack.create(template, { ...op.parameters });
      if (result.stackStatus !== 'CREATE_COMPLETE') {
        fail(`the member stack ended ${result.stackStatus}: ${result.steps.map((s) => `${s.step} ${s.answer?.Status} ${s.answer?.Reason ?? ''}`).join('; ')}`);
      }
      this.live.set(key, { stack, templateBody: op.templateBody, parameters: { ...op.parameters } });
      return { op, label, result, stack };
    }
    if (!existing) {
      return fail('no member stack to update');
    }
    const sameParameters = JSON.stringify(sortedEntries(existing.parameters)) === JSON.stringify(sortedEntries(op.parameters));
    if (existing.templateBody === op.templateBody && sameParameters) {
      return { op, label, skipped: 'no changes', stack: existing.stack };
    }
    const result = await existing.stack.update(template, { ...op.parameters });
    if (result.stackStatus !== 'UPDATE_COMPLETE') {
      fail(`the member stack ended ${result.stackStatus}: ${result.steps.map((s) => `${s.step} ${s.answer?.Status} ${s.answer?.Reason ?? ''}`).join('; ')}`);
    }
    existing.templateBody = op.templateBody;
    existing.parameters = { ...op.parameters };
    return { op, label, result, stack: existing.stack };
  }

  /** Runs the operations one at a time, calling `after` after each. */
  public async runAll(ops: readonly StackInstanceOperation[], after?: (step: MemberStep) => void | Promise<void>): Promise<MemberStep[]> {
    const steps: MemberStep[] = [];
    for (const op of ops) {
      const step = await this.run(op);
      steps.push(step);
      await after?.(step);
    }
    return steps;
  }
}

function sortedEntries(record: Readonly<Record<string, string>>): Array<[string, string]> {
  return Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
}

/** An (account, Region) whose EC2 state lost a managed field it held (back at no preference). */
export interface NoPreferenceFinding {
  /** The label of the check: the operation after which it was seen. */
  readonly after: string;
  readonly account: string;
  readonly region: string;
  /** The managed fields at no preference. */
  readonly missing: readonly string[];
  readonly state: RegionState;
}

/**
 * Watches the account-level EC2 state of (account, Region) pairs: once a pair
 * holds every managed field, it must keep them all; `check(label)` (after every
 * single operation) records each pair that has one at no preference again.
 */
export class EnforcementWatch {
  /** Watches every Region of every account given (started if need be), from their state now. */
  public static async start(
    w: World, accounts: readonly string[], regions: readonly string[], fields: ReadonlyArray<keyof RegionState>,
  ): Promise<EnforcementWatch> {
    const endpoints = await Promise.all(accounts.map((a) => w.account(a)));
    const pairs = endpoints.flatMap((e) => regions.map((region) => ({ account: e.id, region, state: () => e.ec2.state(region) })));
    const watch = new EnforcementWatch(pairs, fields);
    watch.check('start');
    return watch;
  }

  /** Every finding so far, in order. */
  public readonly findings: NoPreferenceFinding[] = [];
  /** The pairs that have held every managed field, `<account>/<region>`. */
  public readonly enforced = new Set<string>();

  private constructor(
    private readonly pairs: ReadonlyArray<{ readonly account: string; readonly region: string; readonly state: () => RegionState }>,
    private readonly fields: ReadonlyArray<keyof RegionState>,
  ) {
    if (fields.length === 0) {
      throw new Error('no managed field to watch');
    }
  }

  /** Reads every pair's state; returns the new findings. */
  public check(label: string): NoPreferenceFinding[] {
    const found: NoPreferenceFinding[] = [];
    for (const pair of this.pairs) {
      const key = `${pair.account}/${pair.region}`;
      const state = pair.state();
      const missing = this.fields.filter((f) => state[f] === undefined);
      if (missing.length === 0) {
        this.enforced.add(key);
      } else if (this.enforced.has(key)) {
        found.push({ after: label, account: pair.account, region: pair.region, missing, state });
      }
    }
    this.findings.push(...found);
    return found;
  }
}
