/**
 * Synthesizes stacks through the library's public API and reads back, from the
 * template alone, what CloudFormation would: the functions (inline code,
 * runtime, handler, Timeout, memory, environment, log group) and the custom
 * resources (properties, ServiceToken, DeletionPolicy). Also resolves the
 * intrinsic functions in a custom resource's properties and delivers them as
 * CloudFormation does: every scalar a string.
 *
 * A template may hold no custom resource (the stack a resource moved out of),
 * one (what synth allows per stack), or several (written by hand: the same
 * stack under two logical ids).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { App, CfnWaitConditionHandle, DefaultStackSynthesizer, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Construct } from 'constructs';
import { FunctionConfig } from './lambda';
import { ImdsAccountDefaults, ImdsAccountDefaultsProps, ImdsAccountDefaultsStackSet, ImdsAccountDefaultsStackSetProps } from '../../../src';

/** The account of the scenarios' stacks unless a scenario starts another one. */
export const ACCOUNT = '123456789012';
export const CUSTOM_RESOURCE_TYPE = 'Custom::ImdsAccountDefaults';

/** A custom resource of a template and the function its ServiceToken points to. */
export interface CustomResourceRef {
  readonly logicalId: string;
  readonly functionLogicalId: string;
}

/** A synthesized template and the logical ids of what the suite runs. */
export interface StackTemplate {
  readonly template: any;
  /** Every Custom::ImdsAccountDefaults of the template, in template order. */
  readonly customResources: readonly CustomResourceRef[];
  /** The custom resource's logical id; throws unless the template holds exactly one. */
  readonly resourceLogicalId: string;
  /** The logical id of the function of the custom resource; throws unless the template holds exactly one. */
  readonly functionLogicalId: string;
}

/**
 * Synthesizes one stack. `build` adds to it through the public API, e.g.
 * `(stack) => new ImdsAccountDefaults(stack, 'Imds', { ... })`.
 * No bootstrap-version rule or parameter: the template is self-contained, as for StackSets.
 */
export function synthesize(build: (stack: Stack) => void): StackTemplate {
  const app = new App();
  const stack = new Stack(app, 'ImdsE2e', { synthesizer: new DefaultStackSynthesizer({ generateBootstrapVersionRule: false }) });
  build(stack);
  return readTemplate(Template.fromStack(stack).toJSON());
}

/**
 * Synthesizes a stack holding one ImdsAccountDefaults with these props, by
 * default at `Imds`; `at` places it elsewhere in the construct tree (e.g.
 * `Security/Imds`: the refactor that changes its logical id).
 */
export function synthesizeImds(props: ImdsAccountDefaultsProps, at: string = 'Imds'): StackTemplate {
  return synthesize((stack) => {
    const parts = at.split('/');
    let scope: Construct = stack;
    for (const part of parts.slice(0, -1)) {
      scope = new Construct(scope, part);
    }
    new ImdsAccountDefaults(scope, parts[parts.length - 1], props);
  });
}

/** A stack without the custom resource (the stack a resource moved out of); CloudFormation needs one resource. */
export function synthesizeWithoutImds(): StackTemplate {
  return synthesize((stack) => new CfnWaitConditionHandle(stack, 'Placeholder'));
}

/** A StackSet's TemplateBody, its parameter values and its name. */
export interface StackSetTemplate {
  readonly template: StackTemplate;
  readonly parameters: Record<string, string>;
  readonly stackSetName: string;
}

/**
 * The template ImdsAccountDefaultsStackSet embeds as TemplateBody (the exact
 * string, parsed: what CloudFormation StackSets deploys to every stack
 * instance), and the StackSet's own parameter values.
 */
export function synthesizeStackSet(props: ImdsAccountDefaultsStackSetProps): StackSetTemplate {
  const stack = new Stack(new App(), 'Org');
  const stackSet = new ImdsAccountDefaultsStackSet(stack, 'ImdsEverywhere', props);
  const parameters: Record<string, string> = {};
  for (const p of (stack.resolve(stackSet.resource.parameters) ?? []) as Array<{ parameterKey: string; parameterValue: string }>) {
    parameters[p.parameterKey] = p.parameterValue;
  }
  return { template: readTemplate(JSON.parse(stackSet.templateBody)), parameters, stackSetName: stack.resolve(stackSet.stackSetName) };
}

/**
 * The commit of the last release, and the template its library synthesized for
 * test/integ.imds-account-defaults.ts, copied verbatim from that commit's
 * snapshot (git show 221f819:test/integ.imds-account-defaults.ts.snapshot/ImdsAccountDefaultsInteg.template.json):
 * its function holds the released handler as inline code, its custom resource
 * the released properties (no Ownership, no ServiceTimeout).
 */
export const RELEASED_COMMIT = '221f819';
const RELEASED_TEMPLATE = path.join(__dirname, `released-${RELEASED_COMMIT}.template.json`);

/**
 * A stack as the released library synthesized it: the committed template of
 * that release, with its custom resource's settings replaced by `settings` when
 * given (property names as in the template, e.g. `{ HttpTokens: 'required' }`),
 * without the bootstrap-version parameter and rule (as the suite synthesizes
 * every stack). Its logical ids are those of `synthesizeImds(props, 'ImdsDefaults')`.
 */
export function releasedTemplate(settings?: Record<string, string | number>): StackTemplate {
  const template = JSON.parse(fs.readFileSync(RELEASED_TEMPLATE, 'utf8'));
  delete template.Parameters?.BootstrapVersion;
  delete template.Rules?.CheckBootstrapVersion;
  for (const key of ['Parameters', 'Rules']) {
    if (template[key] && Object.keys(template[key]).length === 0) {
      delete template[key];
    }
  }
  const t = readTemplate(template);
  if (settings) {
    const resource = template.Resources[t.resourceLogicalId];
    resource.Properties = { ServiceToken: resource.Properties.ServiceToken, ...settings };
  }
  return t;
}

/** Finds the custom resources and the function each one's ServiceToken points to. */
export function readTemplate(template: any): StackTemplate {
  const resources: Record<string, any> = template.Resources ?? {};
  const customResources = Object.entries(resources).filter(([, r]) => r.Type === CUSTOM_RESOURCE_TYPE).map(([logicalId, resource]) => {
    const token = resource.Properties?.ServiceToken;
    const target = token?.['Fn::GetAtt'];
    if (!Array.isArray(target) || target[1] !== 'Arn' || resources[target[0]]?.Type !== 'AWS::Lambda::Function') {
      throw new Error(`the ServiceToken of ${logicalId} is ${JSON.stringify(token)}, not the Arn of a function in this template: the template is not self-contained`);
    }
    return { logicalId, functionLogicalId: target[0] as string };
  });
  const only = (): CustomResourceRef => {
    if (customResources.length !== 1) {
      throw new Error(`expected one ${CUSTOM_RESOURCE_TYPE} in the template, found ${customResources.length}`);
    }
    return customResources[0];
  };
  return {
    template,
    customResources,
    get resourceLogicalId() { return only().logicalId; },
    get functionLogicalId() { return only().functionLogicalId; },
  };
}

/** Values CloudFormation knows at deploy time. */
export interface DeployContext {
  readonly account: string;
  readonly stackName: string;
  readonly stackId: string;
  readonly region: string;
  /** Parameter values given at deploy time (as strings, as CloudFormation takes them). */
  readonly parameters: Readonly<Record<string, string>>;
}

/** The physical name CloudFormation gives an unnamed resource: stack name, logical id, random suffix. */
export function physicalName(ctx: DeployContext, logicalId: string): string {
  const suffix = crypto.createHash('sha256').update(`${ctx.stackId}/${logicalId}`).digest('base64url').replace(/[^A-Za-z0-9]/g, '').slice(0, 12).toUpperCase();
  return `${ctx.stackName}-${logicalId}`.slice(0, 64 - 13) + `-${suffix}`;
}

/** A function of the template as CloudFormation would create it. */
export function functionConfig(t: StackTemplate, functionLogicalId: string, ctx: DeployContext): FunctionConfig {
  const properties = t.template.Resources[functionLogicalId].Properties;
  const code = properties.Code?.ZipFile;
  if (typeof code !== 'string') {
    throw new Error(`the function ${functionLogicalId} has no inline code (Code.ZipFile): ${JSON.stringify(properties.Code)?.slice(0, 200)}`);
  }
  const functionName = physicalName(ctx, functionLogicalId);
  const logGroup = properties.LoggingConfig?.LogGroup;
  const environment = resolve(t, properties.Environment?.Variables ?? {}, ctx);
  return {
    logicalId: functionLogicalId,
    functionName,
    arn: functionArn(functionLogicalId, ctx),
    runtime: properties.Runtime,
    handler: properties.Handler,
    // CloudFormation's defaults when the template leaves them out.
    timeoutSeconds: Number(properties.Timeout ?? 3),
    memorySize: Number(properties.MemorySize ?? 128),
    code,
    environment: stringify(environment),
    logGroupName: logGroup ? String(resolve(t, logGroup, ctx)) : `/aws/lambda/${functionName}`,
  };
}

function functionArn(functionLogicalId: string, ctx: DeployContext): string {
  return `arn:aws:lambda:${ctx.region}:${ctx.account}:function:${physicalName(ctx, functionLogicalId)}`;
}

/** A custom resource's properties as the handler receives them: resolved, every scalar a string. */
export function resourceProperties(t: StackTemplate, logicalId: string, ctx: DeployContext): Record<string, any> {
  return stringify(resolve(t, t.template.Resources[logicalId].Properties ?? {}, ctx));
}

/** A resource's DeletionPolicy (CloudFormation's default is Delete). */
export function deletionPolicy(t: StackTemplate, logicalId: string): string {
  return t.template.Resources[logicalId].DeletionPolicy ?? 'Delete';
}

/**
 * The parameter values CloudFormation would accept: given or default, checked
 * against Type Number, AllowedValues, MinValue and MaxValue (other constraints
 * and SSM parameter types are not emulated).
 */
export function parameterValues(t: StackTemplate, given: Readonly<Record<string, string>>): Record<string, string> {
  const declared: Record<string, any> = t.template.Parameters ?? {};
  for (const name of Object.keys(given)) {
    if (!(name in declared)) {
      throw new Error(`Parameters: [${name}] do not exist in the template`);
    }
  }
  const values: Record<string, string> = {};
  for (const [name, p] of Object.entries(declared)) {
    const value = given[name] ?? (p.Default !== undefined ? String(p.Default) : undefined);
    if (value === undefined) {
      throw new Error(`Parameters: [${name}] must have values`);
    }
    if (p.Type === 'Number' && (value.trim() === '' || !Number.isFinite(Number(value)))) {
      throw new Error(`Parameter '${name}' must be a number.`);
    }
    if (p.Type !== 'Number' && p.Type !== 'String') {
      throw new Error(`Parameter '${name}' has Type ${p.Type}, which the end-to-end suite does not emulate`);
    }
    if (p.AllowedValues && !p.AllowedValues.map(String).includes(value)) {
      throw new Error(`Parameter '${name}' failed to satisfy constraint: Value must be one of ${p.AllowedValues.join(', ')}`);
    }
    if (p.MinValue !== undefined && Number(value) < Number(p.MinValue)) {
      throw new Error(`Parameter '${name}' must be a number not less than ${p.MinValue}`);
    }
    if (p.MaxValue !== undefined && Number(value) > Number(p.MaxValue)) {
      throw new Error(`Parameter '${name}' must be a number not greater than ${p.MaxValue}`);
    }
    values[name] = value;
  }
  return values;
}

/** Resolves Ref, Fn::GetAtt, Fn::Join and Fn::Sub (plain ${Name} references) as CloudFormation would at deploy time. */
export function resolve(t: StackTemplate, value: any, ctx: DeployContext): any {
  if (Array.isArray(value)) {
    return value.map((v) => resolve(t, v, ctx));
  }
  if (value === null || typeof value !== 'object') {
    return value;
  }
  const keys = Object.keys(value);
  if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'))) {
    const [fn] = keys;
    const arg = value[fn];
    switch (fn) {
      case 'Ref':
        return ref(t, arg, ctx);
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = Array.isArray(arg) ? arg : String(arg).split('.');
        if (t.template.Resources?.[logicalId]?.Type === 'AWS::Lambda::Function' && attribute === 'Arn') {
          return functionArn(logicalId, ctx);
        }
        throw new Error(`Fn::GetAtt ${logicalId}.${attribute} is not emulated`);
      }
      case 'Fn::Join':
        return resolve(t, arg[1], ctx).join(arg[0]);
      case 'Fn::Sub':
        return String(arg).replace(/\$\{([^}!]+)\}/g, (_, name) => String(ref(t, name, ctx)));
      default:
        throw new Error(`${fn} is not emulated by the end-to-end suite`);
    }
  }
  return Object.fromEntries(keys.map((k) => [k, resolve(t, value[k], ctx)]));
}

function ref(t: StackTemplate, name: string, ctx: DeployContext): string {
  const pseudo: Record<string, string> = {
    'AWS::Region': ctx.region,
    'AWS::AccountId': ctx.account,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': ctx.stackName,
    'AWS::StackId': ctx.stackId,
  };
  if (name in pseudo) {
    return pseudo[name];
  }
  if (name in (t.template.Parameters ?? {})) {
    const value = ctx.parameters[name];
    if (value === undefined) {
      throw new Error(`no value for parameter ${name}`);
    }
    return value;
  }
  if (name in (t.template.Resources ?? {})) {
    return physicalName(ctx, name);
  }
  throw new Error(`Ref ${name}: no such parameter, pseudo parameter or resource`);
}

/** CloudFormation delivers custom resource properties with every scalar as a string ("2", "true"). */
export function stringify(value: any): any {
  if (Array.isArray(value)) {
    return value.map(stringify);
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stringify(v)]));
  }
  return value === null || value === undefined ? value : String(value);
}
