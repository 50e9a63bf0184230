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
 * stack under two logical ids; or ImdsAccountDefaults and ImdsInstanceUpgrade
 * side by side). A custom resource is any `Custom::<Name>` (or
 * AWS::CloudFormation::CustomResource) whose ServiceToken is the Arn of a
 * function of the template: the suite runs that function for it.
 *
 * The template's other resources (roles, rules, permissions, log groups) are
 * not run; checkReferences() checks that what they refer to exists and that each
 * EventBridge rule may invoke the function it targets (rules() describes them
 * for the EventBridge stand-in in cloudformation.ts).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { App, CfnWaitConditionHandle, DefaultStackSynthesizer, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CfnStackSet } from 'aws-cdk-lib/aws-cloudformation';
import { Construct } from 'constructs';
import { scheduleRateMinutes } from './eventbridge';
import { FunctionConfig } from './lambda';
import { ImdsAccountDefaults, ImdsAccountDefaultsProps, ImdsAccountDefaultsStackSet, ImdsAccountDefaultsStackSetProps } from '../../../src';

/** The account of the scenarios' stacks unless a scenario starts another one. */
export const ACCOUNT = '123456789012';
/** The custom resource type of ImdsAccountDefaults. */
export const CUSTOM_RESOURCE_TYPE = 'Custom::ImdsAccountDefaults';
/** The custom resource type of ImdsInstanceUpgrade. */
export const INSTANCE_UPGRADE_TYPE = 'Custom::ImdsInstanceUpgrade';

/** A custom resource of a template and the function its ServiceToken points to. */
export interface CustomResourceRef {
  readonly logicalId: string;
  readonly functionLogicalId: string;
  /** Its Type, e.g. Custom::ImdsAccountDefaults. */
  readonly type: string;
}

/** A synthesized template and the logical ids of what the suite runs. */
export interface StackTemplate {
  readonly template: any;
  /** Every custom resource of the template backed by one of its functions, in template order. */
  readonly customResources: readonly CustomResourceRef[];
  /** The custom resource's logical id; throws unless the template holds exactly one. */
  readonly resourceLogicalId: string;
  /** The logical id of the function of the custom resource; throws unless the template holds exactly one. */
  readonly functionLogicalId: string;
  /** The custom resource of this type; throws unless the template holds exactly one of it. */
  resourceOf(type: string): CustomResourceRef;
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
  const template = Template.fromStack(stack).toJSON();
  // The previous release's code (PREVIOUS_RELEASE_CODE_ENV) does not answer the attributes added since:
  // without the Outputs, each scenario fails on it for its own reason.
  if (!process.env[PREVIOUS_RELEASE_CODE_ENV]) {
    outputEveryAttribute(stack, template);
  }
  return readTemplate(template);
}

/**
 * Adds to the template an Output for every attribute of the stack's constructs
 * that reads a custom resource's Data (`ImdsAccountDefaults.readinessCheckResult`,
 * `ImdsInstanceUpgrade.instancesUpgradedCount`, ...: any string or number
 * property that resolves to Fn::GetAtt of a Custom:: resource), as an app that
 * uses every attribute would (`new CfnOutput(stack, 'Result', { value:
 * defaults.readinessCheckResult })`). CloudFormation resolves each from the Data
 * of the resource's last Create or Update and fails the stack when a key is
 * missing; cloudformation.ts checks it (attributesRead) after every event.
 * Output ids: `<resource logical id><attribute>`. Not with PREVIOUS_RELEASE_CODE_ENV.
 */
function outputEveryAttribute(stack: Stack, template: any): void {
  const resources: Record<string, any> = template.Resources ?? {};
  const outputs: Record<string, any> = {};
  for (const construct of stack.node.findAll()) {
    for (const value of Object.values(construct)) {
      if (typeof value !== 'string' && typeof value !== 'number') {
        continue;
      }
      const target = stack.resolve(value)?.['Fn::GetAtt'];
      if (Array.isArray(target) && isCustomResourceType(resources[target[0]]?.Type)) {
        outputs[`${target[0]}${target[1]}`] = { Value: { 'Fn::GetAtt': target } };
      }
    }
  }
  if (Object.keys(outputs).length > 0) {
    template.Outputs = { ...template.Outputs, ...outputs };
  }
}

/**
 * The attributes the template reads from a custom resource (Fn::GetAtt, and
 * `${logicalId.Attribute}` in Fn::Sub), anywhere in its resources' properties
 * and its Outputs, sorted: the keys its answers' Data must hold.
 */
export function attributesRead(t: StackTemplate, logicalId: string): string[] {
  const found = new Set<string>();
  const walk = (value: any): void => {
    if (Array.isArray(value)) {
      value.forEach(walk);
      return;
    }
    if (value === null || typeof value !== 'object') {
      return;
    }
    for (const [key, arg] of Object.entries(value)) {
      if (key === 'Fn::GetAtt') {
        const [target, ...attribute] = Array.isArray(arg) ? arg : String(arg).split('.');
        if (target === logicalId) {
          found.add(attribute.join('.'));
        }
      } else if (key === 'Fn::Sub') {
        const text = Array.isArray(arg) ? arg[0] : arg;
        for (const [, name] of String(text).matchAll(/\$\{([^}!][^}]*)\}/g)) {
          if (name.startsWith(`${logicalId}.`)) {
            found.add(name.slice(logicalId.length + 1));
          }
        }
      }
      walk(arg);
    }
  };
  for (const resource of Object.values<any>(t.template.Resources ?? {})) {
    walk(resource.Properties);
  }
  walk(t.template.Outputs);
  return [...found].sort();
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
  const cfnStackSet = stackSet.node.defaultChild as CfnStackSet;
  for (const p of (stack.resolve(cfnStackSet.parameters) ?? []) as Array<{ parameterKey: string; parameterValue: string }>) {
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

/**
 * The commit of the release before issue 15's hardening (the claims of format 1,
 * `claims-v1`; no confirmation of events; the brotli loader as inline code). Its
 * library synthesized these templates (stack ImdsE2e, as synthesizeImds and
 * synthesize name the logical ids, so an update to the current library's
 * template keeps them), copied verbatim into released-322c6d4-<fixture>.template.json:
 * - `account-defaults`: ImdsAccountDefaults at Imds with httpTokens REQUIRED,
 *   httpPutResponseHopLimit 2, driftGuard REAPPLY;
 * - `account-defaults-retain`: the same settings, removalPolicy RETAIN, no guard;
 * - `account-defaults-report-only`: ImdsAccountDefaults at Imds with httpTokens
 *   REQUIRED, httpTokensEnforced ENABLED, readinessCheck `ReadinessCheck.REPORT_ONLY`
 *   (its custom resource's property `ReadinessCheck: 'REPORT_ONLY'`, the value the
 *   1.0 API calls ENFORCE_AND_REPORT), no guard;
 * - `instance-upgrade`: ImdsInstanceUpgrade at Upgrade, mode REPORT_ONLY.
 * (The bundles built from that commit's lambda/ with its own esbuild command and
 * projenrc/inline-code.js; `account-defaults` synthesized again that way is
 * byte-identical to the committed one.)
 */
export const PREVIOUS_COMMIT = '322c6d4';
export type PreviousFixture = 'account-defaults' | 'account-defaults-retain' | 'account-defaults-report-only' | 'instance-upgrade';

/** A template the previous release (PREVIOUS_COMMIT) synthesized; see PreviousFixture. */
export function previousReleaseTemplate(fixture: PreviousFixture): StackTemplate {
  return readTemplate(JSON.parse(fs.readFileSync(path.join(__dirname, `released-${PREVIOUS_COMMIT}-${fixture}.template.json`), 'utf8')));
}

/**
 * Whether CloudFormation treats a resource type as a custom resource (sent to
 * its ServiceToken); throws for a Custom:: name it refuses (letters, digits and
 * _@- only, up to 60 characters).
 */
export function isCustomResourceType(type: unknown): boolean {
  if (typeof type !== 'string' || !(type === 'AWS::CloudFormation::CustomResource' || type.startsWith('Custom::'))) {
    return false;
  }
  if (type.startsWith('Custom::') && !/^Custom::[A-Za-z0-9_@-]{1,60}$/.test(type)) {
    throw new Error(`the resource type ${type} is invalid: a custom resource type is Custom:: and up to 60 letters, digits and _@-`);
  }
  return true;
}

/** Finds the custom resources and the function each one's ServiceToken points to. */
export function readTemplate(template: any): StackTemplate {
  const resources: Record<string, any> = template.Resources ?? {};
  const customResources = Object.entries(resources).filter(([, r]) => isCustomResourceType(r.Type)).map(([logicalId, resource]) => {
    const token = resource.Properties?.ServiceToken;
    const target = token?.['Fn::GetAtt'];
    if (!Array.isArray(target) || target[1] !== 'Arn' || resources[target[0]]?.Type !== 'AWS::Lambda::Function') {
      throw new Error(`the ServiceToken of ${logicalId} (${resource.Type}) is ${JSON.stringify(token)}, not the Arn of a function in this template: the template is not self-contained`);
    }
    return { logicalId, functionLogicalId: target[0] as string, type: resource.Type as string };
  });
  const only = (): CustomResourceRef => {
    if (customResources.length !== 1) {
      throw new Error(`expected one custom resource in the template, found ${customResources.length}: ${customResources.map((r) => `${r.logicalId} (${r.type})`).join(', ')}`);
    }
    return customResources[0];
  };
  return {
    template,
    customResources,
    get resourceLogicalId() { return only().logicalId; },
    get functionLogicalId() { return only().functionLogicalId; },
    resourceOf(type: string) {
      const found = customResources.filter((r) => r.type === type);
      if (found.length !== 1) {
        throw new Error(`expected one ${type} in the template, found ${found.length}`);
      }
      return found[0];
    },
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

/**
 * Set (to anything) to run every function of ImdsAccountDefaults and
 * ImdsInstanceUpgrade with the inline code of the previous release
 * (PREVIOUS_COMMIT) instead of the template's own: how each scenario of
 * hardening.test.ts was shown to fail on that release
 * (`E2E_PREVIOUS_RELEASE_CODE=1 npx jest test/e2e/hardening.test.ts`).
 * The templates stay the current library's (properties and environment the old
 * code does not read are ignored by it).
 */
export const PREVIOUS_RELEASE_CODE_ENV = 'E2E_PREVIOUS_RELEASE_CODE';

/** The previous release's inline code for the function behind a custom resource of this type, if it is one of the library's. */
function previousReleaseCode(t: StackTemplate, functionLogicalId: string): string | undefined {
  const variables = t.template.Resources[functionLogicalId].Properties?.Environment?.Variables ?? {};
  const type = t.customResources.find((r) => r.functionLogicalId === functionLogicalId)?.type
    ?? (variables.IMDS_UPGRADE_MODE !== undefined ? INSTANCE_UPGRADE_TYPE : undefined);
  const fixture = type === CUSTOM_RESOURCE_TYPE ? 'account-defaults' : type === INSTANCE_UPGRADE_TYPE ? 'instance-upgrade' : undefined;
  if (!fixture) {
    return undefined;
  }
  const previous = previousReleaseTemplate(fixture);
  return previous.template.Resources[previous.resourceOf(type!).functionLogicalId].Properties.Code.ZipFile;
}

/**
 * The template `t` whose functions are configured as in `from` (each function
 * with a logical id of both: Code, Environment, Timeout, ... of `from`): what a
 * stack holds while a rollback has put a custom resource's properties back but
 * not yet its function (CloudFormationStack.rollback's `functionsLast`).
 */
export function withFunctionsOf(t: StackTemplate, from: StackTemplate): StackTemplate {
  const template = structuredClone(t.template);
  for (const [logicalId, resource] of Object.entries<any>(template.Resources ?? {})) {
    const other = from.template.Resources?.[logicalId];
    if (resource.Type === 'AWS::Lambda::Function' && other?.Type === 'AWS::Lambda::Function') {
      resource.Properties = structuredClone(other.Properties);
    }
  }
  return readTemplate(template);
}

/** A function of the template as CloudFormation would create it. */
export function functionConfig(t: StackTemplate, functionLogicalId: string, ctx: DeployContext): FunctionConfig {
  const properties = t.template.Resources[functionLogicalId].Properties;
  const code = (process.env[PREVIOUS_RELEASE_CODE_ENV] ? previousReleaseCode(t, functionLogicalId) : undefined) ?? properties.Code?.ZipFile;
  if (typeof code !== 'string') {
    throw new Error(`the function ${functionLogicalId} has no inline code (Code.ZipFile): ${JSON.stringify(properties.Code)?.slice(0, 200)}`);
  }
  const functionName = resourceName(t, functionLogicalId, ctx);
  const logGroup = properties.LoggingConfig?.LogGroup;
  const environment = resolve(t, properties.Environment?.Variables ?? {}, ctx);
  return {
    logicalId: functionLogicalId,
    functionName,
    arn: functionArn(t, functionLogicalId, ctx),
    runtime: properties.Runtime,
    handler: properties.Handler,
    // CloudFormation's defaults when the template leaves them out.
    timeoutSeconds: Number(properties.Timeout ?? 3),
    memorySize: Number(properties.MemorySize ?? 128),
    code,
    environment: stringify(environment),
    logGroupName: logGroup ? String(resolve(t, logGroup, ctx)) : `/aws/lambda/${functionName}`,
    // arn:aws:iam::<account>:role/<path><name>
    roleName: String(resolve(t, properties.Role, ctx)).split('/').pop()!,
    roleArn: String(resolve(t, properties.Role, ctx)),
    eventPolicies: roleEventPolicies(t, properties.Role, ctx),
  };
}

/**
 * The policies of a function's execution role that may apply to
 * events:PutEvents, resolved: the role's inline Policies, and the
 * AWS::IAM::Policy and AWS::IAM::ManagedPolicy resources of the template
 * attached to it (Roles, or the role's ManagedPolicyArns); its
 * PermissionsBoundary when the template creates that policy. Only statements
 * whose Action (as written) names events:PutEvents, events:* or * are kept.
 * Undefined when the role is not a resource of the template. Simplification:
 * AWS managed policies and policies of other stacks are not known here (the
 * library's roles get events:PutEvents from their own template); an external
 * permissions boundary is not evaluated.
 */
export function roleEventPolicies(t: StackTemplate, role: unknown, ctx: DeployContext): { identity: object[]; boundary?: object[] } | undefined {
  const roleId = (role as any)?.['Fn::GetAtt']?.[0] ?? (typeof (role as any)?.['Fn::GetAtt'] === 'string' ? (role as any)['Fn::GetAtt'].split('.')[0] : undefined);
  const resources = t.template.Resources;
  if (!roleId || resources[roleId]?.Type !== 'AWS::IAM::Role') {
    return undefined;
  }
  const refersToRole = (value: unknown) => Array.isArray(value) && value.some((r: any) => r?.Ref === roleId);
  const mayPutEvents = (statement: any) => [statement.Action ?? statement.NotAction ?? []].flat()
    .some((a: unknown) => typeof a !== 'string' || ['events:putevents', 'events:*', '*'].includes(a.toLowerCase()) || a.includes('?') || (a.includes('*') && 'events:putevents'.startsWith(a.toLowerCase().split('*')[0])));
  const document = (doc: any) => ({
    Version: doc?.Version,
    Statement: [doc?.Statement ?? []].flat().filter(mayPutEvents).map((statement: any) => resolve(t, statement, ctx)),
  });
  const roleProps = resources[roleId].Properties ?? {};
  const managed = new Set([roleProps.ManagedPolicyArns ?? []].flat().map((arn: any) => arn?.Ref).filter(Boolean));
  const identity = [
    ...[roleProps.Policies ?? []].flat().map((p: any) => document(p.PolicyDocument)),
    ...Object.entries(resources)
      .filter(([id, r]: [string, any]) => (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
        && (refersToRole(r.Properties?.Roles) || managed.has(id)))
      .map(([, r]: [string, any]) => document(r.Properties.PolicyDocument)),
  ].filter((d) => d.Statement.length > 0);
  const boundaryId = roleProps.PermissionsBoundary?.Ref;
  const boundary = boundaryId && resources[boundaryId]?.Type === 'AWS::IAM::ManagedPolicy' ? [document(resources[boundaryId].Properties.PolicyDocument)] : undefined;
  return { identity, ...(boundary ? { boundary } : {}) };
}

function functionArn(t: StackTemplate, functionLogicalId: string, ctx: DeployContext): string {
  return `arn:aws:lambda:${ctx.region}:${ctx.account}:function:${resourceName(t, functionLogicalId, ctx)}`;
}

/** The property that names a resource of each type, when the template names it. */
const NAME_PROPERTIES: Record<string, string> = {
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::Events::Rule': 'Name',
  'AWS::IAM::Role': 'RoleName',
  'AWS::Logs::LogGroup': 'LogGroupName',
};

/** A resource's name: the one the template gives it, else the physical name CloudFormation makes up. */
function resourceName(t: StackTemplate, logicalId: string, ctx: DeployContext): string {
  const resource = t.template.Resources[logicalId];
  const property = NAME_PROPERTIES[resource.Type];
  const given = property ? resource.Properties?.[property] : undefined;
  return given !== undefined ? String(resolve(t, given, ctx)) : physicalName(ctx, logicalId);
}

/** Fn::GetAtt for the attributes the suite's templates use. */
function getAtt(t: StackTemplate, logicalId: string, attribute: string, ctx: DeployContext): string {
  const type = t.template.Resources?.[logicalId]?.Type;
  const name = () => resourceName(t, logicalId, ctx);
  if (attribute === 'Arn') {
    switch (type) {
      case 'AWS::Lambda::Function':
        return functionArn(t, logicalId, ctx);
      case 'AWS::IAM::Role': {
        const rolePath = t.template.Resources[logicalId].Properties?.Path;
        return `arn:aws:iam::${ctx.account}:role${rolePath ? String(resolve(t, rolePath, ctx)) : '/'}${name()}`;
      }
      case 'AWS::Events::Rule':
        return `arn:aws:events:${ctx.region}:${ctx.account}:rule/${name()}`;
      case 'AWS::Logs::LogGroup':
        return `arn:aws:logs:${ctx.region}:${ctx.account}:log-group:${name()}:*`;
    }
  }
  throw new Error(`Fn::GetAtt ${logicalId}.${attribute} (${type ?? 'no such resource'}) is not emulated`);
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

/** Resolves Ref, Fn::GetAtt (the Arn of a function, role, rule or log group), Fn::Join, Fn::Select, Fn::Split and Fn::Sub as CloudFormation would at deploy time. */
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
        return getAtt(t, logicalId, attribute, ctx);
      }
      case 'Fn::Join':
        return resolve(t, arg[1], ctx).join(arg[0]);
      case 'Fn::Select': {
        const list = resolve(t, arg[1], ctx);
        const index = Number(resolve(t, arg[0], ctx));
        if (!Array.isArray(list) || !(index >= 0 && index < list.length)) {
          throw new Error(`Fn::Select: index ${index} out of ${JSON.stringify(list)}`);
        }
        return list[index];
      }
      case 'Fn::Split':
        return String(resolve(t, arg[1], ctx)).split(arg[0]);
      case 'Fn::Sub': {
        const [text, vars] = Array.isArray(arg) ? [arg[0], resolve(t, arg[1] ?? {}, ctx)] : [arg, {}];
        return String(text).replace(/\$\{([^}]+)\}/g, (_, name: string) => {
          if (name.startsWith('!')) {
            return `\${${name.slice(1)}}`;
          }
          if (name in vars) {
            return String(vars[name]);
          }
          const dot = name.indexOf('.');
          return dot > 0 && !name.startsWith('AWS::') ? getAtt(t, name.slice(0, dot), name.slice(dot + 1), ctx) : String(ref(t, name, ctx));
        });
      }
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
    return resourceName(t, name, ctx);
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

/** The ServiceTimeout of a custom resource, in seconds (CloudFormation's default 3600 when absent); refuses what CloudFormation refuses. */
export function serviceTimeoutSeconds(t: StackTemplate, logicalId: string, ctx: DeployContext): number {
  const value = resolve(t, t.template.Resources[logicalId].Properties?.ServiceTimeout, ctx);
  if (value === undefined) {
    return 3600;
  }
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600) {
    throw new Error(`${logicalId}: ServiceTimeout ${JSON.stringify(value)} is invalid: CloudFormation takes an integer from 1 to 3600 (seconds)`);
  }
  return seconds;
}

const PSEUDO_PARAMETERS = new Set([
  'AWS::Region', 'AWS::AccountId', 'AWS::Partition', 'AWS::URLSuffix', 'AWS::StackName', 'AWS::StackId', 'AWS::NoValue', 'AWS::NotificationARNs',
]);

/**
 * Checks what CloudFormation checks when it validates a template: every Ref,
 * Fn::GetAtt, Fn::Sub variable and DependsOn names a parameter, a pseudo
 * parameter or a resource of the template. Throws with every dangling reference.
 */
export function checkReferences(t: StackTemplate): void {
  const resources: Record<string, any> = t.template.Resources ?? {};
  const parameters: Record<string, any> = t.template.Parameters ?? {};
  const problems: string[] = [];
  const refTarget = (name: string, at: string) => {
    if (!PSEUDO_PARAMETERS.has(name) && !(name in parameters) && !(name in resources)) {
      problems.push(`${at}: Ref ${name}`);
    }
  };
  const resourceTarget = (name: string, at: string, what: string) => {
    if (!(name in resources)) {
      problems.push(`${at}: ${what} ${name}`);
    }
  };
  const walk = (value: any, at: string): void => {
    if (Array.isArray(value)) {
      value.forEach((v) => walk(v, at));
      return;
    }
    if (value === null || typeof value !== 'object') {
      return;
    }
    for (const [key, arg] of Object.entries(value)) {
      if (key === 'Ref' && typeof arg === 'string') {
        refTarget(arg, at);
      } else if (key === 'Fn::GetAtt') {
        const [logicalId] = Array.isArray(arg) ? arg : String(arg).split('.');
        resourceTarget(String(logicalId), at, 'Fn::GetAtt');
      } else if (key === 'Fn::Sub') {
        const [text, vars] = Array.isArray(arg) ? [arg[0], arg[1] ?? {}] : [arg, {}];
        for (const [, name] of String(text).matchAll(/\$\{([^}]+)\}/g)) {
          if (name.startsWith('!') || name in vars) {
            continue;
          }
          const dot = name.indexOf('.');
          if (dot > 0 && !name.startsWith('AWS::')) {
            resourceTarget(name.slice(0, dot), at, 'Fn::Sub');
          } else {
            refTarget(name, at);
          }
        }
        walk(vars, at);
        continue;
      }
      walk(arg, at);
    }
  };
  for (const [logicalId, resource] of Object.entries(resources)) {
    walk(resource.Properties, logicalId);
    for (const dependency of [resource.DependsOn ?? []].flat()) {
      resourceTarget(String(dependency), logicalId, 'DependsOn');
    }
  }
  walk(t.template.Outputs, 'Outputs');
  if (problems.length > 0) {
    throw new Error(`Template format error: unresolved references (CloudFormation refuses the template): ${problems.join('; ')}`);
  }
}

/** A target of an EventBridge rule. */
export interface RuleTarget {
  readonly id: string;
  readonly arn: string;
  /** The function of the template it invokes, if it is one. */
  readonly functionLogicalId?: string;
  /** The constant Input EventBridge sends instead of the event, parsed. */
  readonly input?: unknown;
  /** What the EventBridge stand-in does not emulate about this target (InputPath, InputTransformer). */
  readonly unsupported?: string;
}

/** An AWS::Events::Rule of the template, resolved. */
export interface RuleConfig {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** ENABLED (CloudFormation's default) or DISABLED. */
  readonly state: string;
  readonly scheduleExpression?: string;
  /** The period of a rate() schedule, in minutes. */
  readonly scheduleRateMinutes?: number;
  readonly eventPattern?: Record<string, any>;
  readonly targets: readonly RuleTarget[];
}

/**
 * The EventBridge rules of a template, resolved as deployed, after checking
 * what EventBridge and Lambda would refuse: a rule with neither a schedule nor
 * a pattern, an invalid ScheduleExpression, a rule on a bus other than the
 * default, and a function target that no AWS::Lambda::Permission lets
 * events.amazonaws.com invoke from this rule (EventBridge's invocation would
 * be denied).
 */
export function rules(t: StackTemplate, ctx: DeployContext): RuleConfig[] {
  const resources: Record<string, any> = t.template.Resources ?? {};
  const functions = Object.keys(resources).filter((id) => resources[id].Type === 'AWS::Lambda::Function');
  const permissions = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Lambda::Permission')
    .map(([logicalId, r]): Record<string, any> => ({ logicalId, ...resolve(t, r.Properties ?? {}, ctx) }));
  return Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Events::Rule').map(([logicalId, r]) => {
    const p = r.Properties ?? {};
    const name = resourceName(t, logicalId, ctx);
    const arn = getAtt(t, logicalId, 'Arn', ctx);
    const bus = p.EventBusName === undefined ? 'default' : String(resolve(t, p.EventBusName, ctx));
    if (bus !== 'default') {
      throw new Error(`${logicalId}: a rule on the event bus ${bus} is not emulated (the default bus only)`);
    }
    const scheduleExpression = p.ScheduleExpression === undefined ? undefined : String(resolve(t, p.ScheduleExpression, ctx));
    const rawPattern = p.EventPattern === undefined ? undefined : resolve(t, p.EventPattern, ctx);
    const eventPattern = typeof rawPattern === 'string' ? JSON.parse(rawPattern) : rawPattern;
    if (scheduleExpression === undefined && eventPattern === undefined) {
      throw new Error(`${logicalId}: a rule needs a ScheduleExpression or an EventPattern; EventBridge refuses it`);
    }
    const targets = ((p.Targets ?? []) as any[]).map((target): RuleTarget => {
      const targetArn = String(resolve(t, target.Arn, ctx));
      const functionLogicalId = functions.find((f) => functionArn(t, f, ctx) === targetArn);
      if (functionLogicalId) {
        const fnName = resourceName(t, functionLogicalId, ctx);
        const allowed = permissions.some((perm) => perm.Action === 'lambda:InvokeFunction'
          && (perm.FunctionName === targetArn || perm.FunctionName === fnName)
          && perm.Principal === 'events.amazonaws.com'
          && (perm.SourceArn === undefined || perm.SourceArn === arn)
          && (perm.SourceAccount === undefined || perm.SourceAccount === ctx.account));
        if (!allowed) {
          throw new Error(`${logicalId}: no AWS::Lambda::Permission lets events.amazonaws.com invoke ${functionLogicalId} from ${arn}: EventBridge's invocation would be denied`);
        }
      }
      const unsupported = ['InputPath', 'InputTransformer'].filter((k) => target[k] !== undefined);
      return {
        id: String(target.Id),
        arn: targetArn,
        functionLogicalId,
        input: target.Input === undefined ? undefined : JSON.parse(String(resolve(t, target.Input, ctx))),
        unsupported: unsupported.length > 0 ? unsupported.join(', ') : undefined,
      };
    });
    return {
      logicalId,
      name,
      arn,
      state: p.State === undefined ? 'ENABLED' : String(resolve(t, p.State, ctx)),
      scheduleExpression,
      scheduleRateMinutes: scheduleExpression === undefined ? undefined : scheduleRateMinutes(scheduleExpression),
      eventPattern,
      targets,
    };
  });
}

/**
 * How many times Lambda retries a failed asynchronous invocation (EventBridge's)
 * of the function's $LATEST: the MaximumRetryAttempts of its
 * AWS::Lambda::EventInvokeConfig, else Lambda's default of 2.
 */
export function asyncRetryAttempts(t: StackTemplate, functionLogicalId: string, ctx: DeployContext): number {
  const names = [resourceName(t, functionLogicalId, ctx), functionArn(t, functionLogicalId, ctx)];
  const config = Object.values<any>(t.template.Resources ?? {}).find((r) => r.Type === 'AWS::Lambda::EventInvokeConfig'
    && names.includes(String(resolve(t, r.Properties?.FunctionName, ctx))) && r.Properties?.Qualifier === '$LATEST');
  const attempts = config?.Properties?.MaximumRetryAttempts;
  return attempts === undefined ? 2 : Number(attempts);
}
