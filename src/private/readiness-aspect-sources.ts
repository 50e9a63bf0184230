/**
 * What the readiness aspect reads from the L1 resources of an app: the
 * metadata options of instances, launch templates and launch configurations,
 * which launch template or configuration an Auto Scaling group, EKS node
 * group, EC2 fleet, Spot fleet or instance uses, and which of them run
 * containers. Only values known at synth are used: a token, or a reference this
 * app cannot follow, is "unknown", never guessed.
 */
import { CfnResource, Reference, Stack, Token, Tokenization } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

export const INSTANCE = 'AWS::EC2::Instance';
export const LAUNCH_TEMPLATE = 'AWS::EC2::LaunchTemplate';
export const LAUNCH_CONFIGURATION = 'AWS::AutoScaling::LaunchConfiguration';
export const AUTO_SCALING_GROUP = 'AWS::AutoScaling::AutoScalingGroup';
export const EKS_NODEGROUP = 'AWS::EKS::Nodegroup';
export const EC2_FLEET = 'AWS::EC2::EC2Fleet';
export const SPOT_FLEET = 'AWS::EC2::SpotFleet';
export const ECS_CAPACITY_PROVIDER = 'AWS::ECS::CapacityProvider';

/** The resources whose metadata options the aspect judges. */
export const CONFIGURED_TYPES: readonly string[] = [INSTANCE, LAUNCH_TEMPLATE, LAUNCH_CONFIGURATION];
/** The resources that launch from a launch template or configuration. */
export const LAUNCHER_TYPES: readonly string[] = [INSTANCE, AUTO_SCALING_GROUP, EKS_NODEGROUP, EC2_FLEET, SPOT_FLEET];

/** A metadata option: its value, absent, or a token. */
export type Known<T> = { readonly state: 'set'; readonly value: T } | { readonly state: 'absent' } | { readonly state: 'token' };

/** What a resource says about its metadata options. */
export interface MetadataOptions {
  /** Whether it has a metadata options block at all (false: every option is absent). */
  readonly present: boolean;
  readonly httpTokens: Known<string>;
  readonly hopLimit: Known<number>;
}

/** A launch template or configuration a launcher uses, or why it cannot be told. */
export type LaunchSource =
  | { readonly kind: 'resource'; readonly resource: CfnResource }
  | { readonly kind: 'unknown'; readonly reason: string };

const ABSENT: Known<never> = { state: 'absent' };
const TOKEN: Known<never> = { state: 'token' };

/** The resource type of a construct that is an L1 resource, else undefined. */
export function cfnTypeOf(c: IConstruct): string | undefined {
  return CfnResource.isCfnResource(c) ? c.cfnResourceType : undefined;
}

/** A property of an L1 resource, as its generated class holds it (camelCase). */
function prop(resource: CfnResource, name: string): any {
  return (resource as unknown as Record<string, unknown>)[name];
}

function known<T>(value: unknown, type: 'string' | 'number'): Known<T> {
  if (value === undefined || value === null) {
    return ABSENT;
  }
  if (Token.isUnresolved(value) || typeof value !== type) {
    return TOKEN;
  }
  return { state: 'set', value: value as T };
}

/** The metadata options block of a launch template, launch configuration or instance; undefined when it is a token. */
export function ownMetadataOptions(resource: CfnResource): MetadataOptions | undefined {
  let block: unknown;
  switch (resource.cfnResourceType) {
    case LAUNCH_TEMPLATE: {
      const data = prop(resource, 'launchTemplateData');
      if (data !== undefined && Token.isUnresolved(data)) {
        return undefined;
      }
      block = data?.metadataOptions;
      break;
    }
    default:
      // Launch configurations; instances only in aws-cdk-lib releases whose CfnInstance has MetadataOptions.
      block = prop(resource, 'metadataOptions');
  }
  if (block === undefined || block === null) {
    return { present: false, httpTokens: ABSENT, hopLimit: ABSENT };
  }
  if (Token.isUnresolved(block)) {
    return undefined;
  }
  const b = block as Record<string, unknown>;
  return { present: true, httpTokens: known<string>(b.httpTokens, 'string'), hopLimit: known<number>(b.httpPutResponseHopLimit, 'number') };
}

/** The construct a token refers to (`Ref` / `Fn::GetAtt` of an L1 resource in the app), if it is one. */
function referenceTarget(value: unknown): IConstruct | undefined {
  const token = Token.isUnresolved(value) ? Tokenization.reverse(value) : undefined;
  return token !== undefined && Reference.isReference(token) ? token.target : undefined;
}

/** Every L1 resource of a type in the app. */
export function resourcesOfType(root: IConstruct, type: string): CfnResource[] {
  return root.node.findAll().filter((c): c is CfnResource => cfnTypeOf(c) === type);
}

/**
 * The launch template a specification (`LaunchTemplateId` or
 * `LaunchTemplateName`, and `Version`) names, when it is a CfnLaunchTemplate of
 * this app and the version is the one this app defines (`$Default`, `$Latest`,
 * left out, or that template's own version attributes).
 */
export function resolveLaunchTemplate(root: IConstruct, spec: unknown, what: string): LaunchSource {
  if (spec === undefined || spec === null) {
    return { kind: 'unknown', reason: `${what} names no launch template` };
  }
  if (Token.isUnresolved(spec)) {
    return { kind: 'unknown', reason: `${what} is a token` };
  }
  const s = spec as Record<string, unknown>;
  let template: CfnResource | undefined;
  for (const key of ['launchTemplateId', 'id', 'launchTemplateName', 'name']) {
    const value = s[key];
    if (value === undefined) {
      continue;
    }
    const target = referenceTarget(value);
    if (target !== undefined && cfnTypeOf(target) === LAUNCH_TEMPLATE) {
      template = target as CfnResource;
    } else if (typeof value === 'string' && !Token.isUnresolved(value) && key.toLowerCase().endsWith('name')) {
      template = resourcesOfType(root, LAUNCH_TEMPLATE).find((lt) => prop(lt, 'launchTemplateName') === value);
    }
    if (template === undefined) {
      return { kind: 'unknown', reason: `${what} names the launch template ${Token.isUnresolved(value) ? '(a token)' : JSON.stringify(value)}, which is not a launch template of this app` };
    }
    break;
  }
  if (template === undefined) {
    return { kind: 'unknown', reason: `${what} names no launch template` };
  }
  const version = s.version;
  const versionTarget = referenceTarget(version);
  const versionKnown = version === undefined || version === '$Default' || version === '$Latest' || versionTarget === template;
  if (!versionKnown) {
    return {
      kind: 'unknown',
      reason: `${what} uses version ${Token.isUnresolved(version) ? '(a token)' : JSON.stringify(version)} of ${template.node.path}, which may not hold the metadata options this app gives it`,
    };
  }
  return { kind: 'resource', resource: template };
}

/** The launch configuration an Auto Scaling group names. */
function resolveLaunchConfiguration(root: IConstruct, name: unknown, what: string): LaunchSource {
  const target = referenceTarget(name);
  if (target !== undefined && cfnTypeOf(target) === LAUNCH_CONFIGURATION) {
    return { kind: 'resource', resource: target as CfnResource };
  }
  if (typeof name === 'string' && !Token.isUnresolved(name)) {
    const found = resourcesOfType(root, LAUNCH_CONFIGURATION).find((lc) => prop(lc, 'launchConfigurationName') === name);
    if (found !== undefined) {
      return { kind: 'resource', resource: found };
    }
  }
  return { kind: 'unknown', reason: `${what} names the launch configuration ${Token.isUnresolved(name) ? '(a token)' : JSON.stringify(name)}, which is not one of this app` };
}

/** A list property's elements, or undefined when the list is a token. */
function elements(list: unknown): unknown[] | undefined {
  if (list === undefined || list === null) {
    return [];
  }
  return Token.isUnresolved(list) || !Array.isArray(list) ? undefined : list;
}

/** The launch templates and configurations a launcher uses (an instance without a launch template: none). */
export function launchSources(root: IConstruct, launcher: CfnResource): LaunchSource[] {
  const sources: LaunchSource[] = [];
  const fromList = (list: unknown, key: string, what: string) => {
    const items = elements(list);
    if (items === undefined) {
      sources.push({ kind: 'unknown', reason: `${what} is a token` });
      return;
    }
    items.forEach((item, i) => {
      if (Token.isUnresolved(item)) {
        sources.push({ kind: 'unknown', reason: `${what}[${i}] is a token` });
      } else if ((item as Record<string, unknown>)?.[key] !== undefined) {
        sources.push(resolveLaunchTemplate(root, (item as Record<string, unknown>)[key], `${what}[${i}].${key}`));
      }
    });
  };
  switch (launcher.cfnResourceType) {
    case INSTANCE:
    case EKS_NODEGROUP: {
      const spec = prop(launcher, 'launchTemplate');
      if (spec !== undefined) {
        sources.push(resolveLaunchTemplate(root, spec, 'launchTemplate'));
      } else if (launcher.cfnResourceType === EKS_NODEGROUP) {
        sources.push({ kind: 'unknown', reason: 'the node group has no launch template: EKS launches its nodes from a launch template of its own, outside this app' });
      }
      break;
    }
    case AUTO_SCALING_GROUP: {
      if (prop(launcher, 'launchTemplate') !== undefined) {
        sources.push(resolveLaunchTemplate(root, prop(launcher, 'launchTemplate'), 'launchTemplate'));
      }
      if (prop(launcher, 'launchConfigurationName') !== undefined) {
        sources.push(resolveLaunchConfiguration(root, prop(launcher, 'launchConfigurationName'), 'launchConfigurationName'));
      }
      const mixed = prop(launcher, 'mixedInstancesPolicy');
      if (mixed !== undefined) {
        const lt = Token.isUnresolved(mixed) ? mixed : mixed.launchTemplate;
        if (Token.isUnresolved(lt)) {
          sources.push({ kind: 'unknown', reason: 'mixedInstancesPolicy is a token' });
        } else {
          sources.push(resolveLaunchTemplate(root, lt.launchTemplateSpecification, 'mixedInstancesPolicy.launchTemplate.launchTemplateSpecification'));
          fromList(lt.overrides, 'launchTemplateSpecification', 'mixedInstancesPolicy.launchTemplate.overrides');
        }
      }
      if (sources.length === 0 && prop(launcher, 'instanceId') !== undefined) {
        sources.push({ kind: 'unknown', reason: 'the group is created from an instance (InstanceId), whose options this app does not define' });
      }
      break;
    }
    case EC2_FLEET:
      fromList(prop(launcher, 'launchTemplateConfigs'), 'launchTemplateSpecification', 'launchTemplateConfigs');
      break;
    case SPOT_FLEET: {
      const data = prop(launcher, 'spotFleetRequestConfigData');
      if (Token.isUnresolved(data)) {
        sources.push({ kind: 'unknown', reason: 'spotFleetRequestConfigData is a token' });
      } else {
        fromList(data?.launchTemplateConfigs, 'launchTemplateSpecification', 'spotFleetRequestConfigData.launchTemplateConfigs');
      }
      break;
    }
  }
  return sources;
}

/** Markers of container hosts in user data: ECS's agent configuration, EKS's bootstrap script and nodeadm. */
const CONTAINER_USER_DATA: ReadonlyArray<{ readonly marker: string; readonly what: string }> = [
  { marker: 'ECS_CLUSTER', what: 'its user data joins an ECS cluster (ECS_CLUSTER)' },
  { marker: '/etc/eks/bootstrap.sh', what: 'its user data joins an EKS cluster (/etc/eks/bootstrap.sh)' },
  { marker: 'node.eks.aws', what: 'its user data joins an EKS cluster (nodeadm NodeConfig)' },
];

/** The user data of a launch template, launch configuration or instance, resolved as far as synth allows. */
function userDataText(resource: CfnResource): string {
  const data = resource.cfnResourceType === LAUNCH_TEMPLATE ? prop(resource, 'launchTemplateData') : undefined;
  const userData = resource.cfnResourceType === LAUNCH_TEMPLATE ? (Token.isUnresolved(data) ? undefined : data?.userData) : prop(resource, 'userData');
  if (userData === undefined) {
    return '';
  }
  try {
    return JSON.stringify(Stack.of(resource).resolve(userData));
  } catch {
    return '';
  }
}

/**
 * Why a launch template, launch configuration or instance runs containers, if
 * it does: it is (or is under) one of `containerHosts`, its user data joins an
 * ECS or EKS cluster, or it is used by an EKS node group, by an Auto Scaling
 * group of an ECS capacity provider, or by a launcher under `containerHosts`.
 */
export function containerHostReason(root: IConstruct, resource: CfnResource, containerHosts: readonly IConstruct[]): string | undefined {
  const listed = (c: IConstruct) => containerHosts.find((h) => c === h || c.node.scopes.includes(h));
  const own = listed(resource);
  if (own !== undefined) {
    return `it is ${own === resource ? '' : 'under '}${own.node.path}, listed in containerHosts`;
  }
  const marker = CONTAINER_USER_DATA.find(({ marker: m }) => userDataText(resource).includes(m));
  if (marker !== undefined) {
    return marker.what;
  }
  const capacityGroups = new Set(resourcesOfType(root, ECS_CAPACITY_PROVIDER).map((cp) => {
    const provider = prop(cp, 'autoScalingGroupProvider');
    return Token.isUnresolved(provider) ? undefined : referenceTarget(provider?.autoScalingGroupArn);
  }).filter((c) => c !== undefined));
  for (const launcher of root.node.findAll()) {
    const type = cfnTypeOf(launcher);
    if (type === undefined || !LAUNCHER_TYPES.includes(type) || launcher === resource) {
      continue;
    }
    const uses = launchSources(root, launcher as CfnResource).some((s) => s.kind === 'resource' && s.resource === resource);
    if (!uses) {
      continue;
    }
    if (type === EKS_NODEGROUP) {
      return `EKS node group ${launcher.node.path} launches from it`;
    }
    if (capacityGroups.has(launcher)) {
      return `Auto Scaling group ${launcher.node.path}, the capacity of an ECS capacity provider, launches from it`;
    }
    const launcherListed = listed(launcher);
    if (launcherListed !== undefined) {
      return `${launcher.node.path} launches from it and is listed in containerHosts (${launcherListed.node.path})`;
    }
  }
  return undefined;
}
