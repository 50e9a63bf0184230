import { Annotations, Aspects, CfnResource, IAspect, Stage, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import {
  CONFIGURED_TYPES, INSTANCE, LAUNCHER_TYPES, LaunchSource, MetadataOptions,
  cfnTypeOf, containerHostReason, launchSources, ownMetadataOptions,
} from './private/readiness-aspect-sources';

/**
 * Properties for `ImdsEnforcementReadiness`.
 */
export interface ImdsEnforcementReadinessProps {
  /**
   * Whether the accounts this app deploys to have (or will have)
   * `httpTokensEnforced` enabled. Then a launch template, launch configuration
   * or instance that sets `HttpTokens` to `optional` is an error (its launches
   * fail with `UnsupportedOperation`); otherwise it is a warning.
   *
   * @default false
   */
  readonly enforcement?: boolean;

  /**
   * Constructs that run containers, beside those the aspect recognizes itself
   * (launch templates of EKS node groups, of Auto Scaling groups behind an ECS
   * capacity provider, and user data that joins an ECS or EKS cluster): for
   * example a self-managed Kubernetes Auto Scaling group. Their launch
   * templates, launch configurations and instances (those under them, and those
   * that launchers under them use) get the hop-limit check: a hop limit of 1
   * keeps containers from reaching IMDSv2.
   *
   * @default - only the container hosts the aspect recognizes
   */
  readonly containerHosts?: IConstruct[];
}

/** The ids of the aspect's findings: acknowledge a warning with `Annotations.of(scope).acknowledgeWarning(id, reason)` on a scope above the resource. */
const IDS = {
  explicitOptional: 'cdk-imds-account-defaults:readiness:explicitOptional',
  httpTokensUnset: 'cdk-imds-account-defaults:readiness:httpTokensUnset',
  hopLimitOne: 'cdk-imds-account-defaults:readiness:hopLimitOneOnContainerHost',
  unknown: 'cdk-imds-account-defaults:readiness:unknown',
} as const;

/** How a user sets the metadata options of each kind, in the messages' fixes. */
const FIX_TOKENS: Record<string, string> = {
  'AWS::EC2::LaunchTemplate': 'set MetadataOptions.HttpTokens to required (ec2.LaunchTemplate: requireImdsv2: true, or httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED)',
  'AWS::AutoScaling::LaunchConfiguration': 'set MetadataOptions.HttpTokens to required (autoscaling.AutoScalingGroup: requireImdsv2: true), or move to a launch template',
  'AWS::EC2::Instance': 'launch it from a launch template that sets HttpTokens to required (ec2.Instance: requireImdsv2: true)',
};

/**
 * An aspect that finds, at synth, what enforcing IMDSv2 would break in the app
 * itself: add it to an app or stage (`Aspects.of(app).add(new
 * ImdsEnforcementReadiness({ enforcement: true }))`).
 *
 * It looks at every `AWS::EC2::Instance`, `AWS::EC2::LaunchTemplate` and
 * `AWS::AutoScaling::LaunchConfiguration`, and follows the launch templates
 * and configurations that Auto Scaling groups (mixed instances policies and
 * their overrides included), EKS node groups, EC2 fleets, Spot fleets and
 * instances use to the L1 resources of this app that define them. Each finding
 * names the construct path and the fix:
 *
 * - `HttpTokens: optional` set explicitly (Packer-built and older launch
 *   templates do): an error when `enforcement` is true (launches fail with
 *   `UnsupportedOperation`), a warning otherwise
 *   (`cdk-imds-account-defaults:readiness:explicitOptional`);
 * - no `HttpTokens` (no metadata options at all, or options without it): a
 *   warning that the account default or the AMI decides
 *   (`cdk-imds-account-defaults:readiness:httpTokensUnset`);
 * - a hop limit of 1 on a container host: a warning
 *   (`cdk-imds-account-defaults:readiness:hopLimitOneOnContainerHost`). A
 *   container host is a launch template, launch configuration or instance that
 *   an EKS node group, or an Auto Scaling group behind an ECS capacity
 *   provider, launches from; whose user data joins an ECS cluster
 *   (`ECS_CLUSTER`) or an EKS cluster (`/etc/eks/bootstrap.sh`, nodeadm); or
 *   that `containerHosts` lists;
 * - a value that is a token, a launch template outside this app, or a version
 *   other than `$Default` / `$Latest` / the template's own version attributes:
 *   a warning that the aspect cannot tell (`cdk-imds-account-defaults:readiness:unknown`).
 *   Nothing is guessed.
 *
 * Warnings can be acknowledged by id (`Annotations.of(scope).acknowledgeWarning(id, reason)`)
 * on a scope above the L1 resource, such as its L2 construct or the stack:
 * aws-cdk-lib 2.168 does not look for acknowledgements made before synth on the
 * L1 resource itself. Errors (aws-cdk-lib 2.168 has no error ids) carry the id
 * at the start of the message. The aspect reads the L1 properties: raw overrides
 * (`addPropertyOverride`) are not seen. It never changes anything: to rewrite,
 * aws-cdk-lib has `InstanceRequireImdsv2Aspect` and
 * `LaunchTemplateRequireImdsv2Aspect`.
 */
export class ImdsEnforcementReadiness implements IAspect {
  /**
   * Adds the aspect to the app or stage of `scope`'s stack (once: not when one
   * is there already), with enforcement on when `httpTokensEnforced` is
   * `enabled` (a token: off). For `ImdsAccountDefaults`' `checkEnforcementReadiness`.
   *
   * @internal
   */
  public static _addToStageOf(scope: IConstruct, httpTokensEnforced: string | undefined): void {
    const stage = Stage.of(scope) ?? scope.node.root;
    if (Aspects.of(stage).all.some((a) => a instanceof ImdsEnforcementReadiness)) {
      return;
    }
    const enforcement = httpTokensEnforced !== undefined && !Token.isUnresolved(httpTokensEnforced) && httpTokensEnforced === 'enabled';
    Aspects.of(stage).add(new ImdsEnforcementReadiness({ enforcement }));
  }

  private readonly enforcement: boolean;
  private readonly containerHosts: readonly IConstruct[];

  constructor(props: ImdsEnforcementReadinessProps = {}) {
    if (props.enforcement !== undefined && typeof props.enforcement !== 'boolean') {
      throw new Error(`ImdsEnforcementReadiness: enforcement must be true or false; got ${JSON.stringify(props.enforcement)}`);
    }
    const hosts = props.containerHosts ?? [];
    if (!Array.isArray(hosts) || hosts.some((h) => h === null || typeof h !== 'object' || (h as IConstruct).node === undefined)) {
      throw new Error('ImdsEnforcementReadiness: containerHosts must be a list of constructs');
    }
    this.enforcement = props.enforcement ?? false;
    this.containerHosts = hosts;
  }

  public visit(node: IConstruct): void {
    const type = cfnTypeOf(node);
    if (type === undefined) {
      return;
    }
    const resource = node as CfnResource;
    const root = node.node.root;
    let sources: LaunchSource[] = [];
    if (LAUNCHER_TYPES.includes(type)) {
      sources = launchSources(root, resource);
      for (const source of sources) {
        if (source.kind === 'unknown') {
          this.warn(resource, IDS.unknown, `cannot tell whether its instances require IMDSv2: ${source.reason}. Check that launch template's metadata options by hand (HttpTokens: required), or acknowledge this warning.`);
        }
      }
    }
    if (!CONFIGURED_TYPES.includes(type)) {
      return;
    }
    // An instance's own options (newer CfnInstance) come before those of its launch template, option by option.
    const own = ownMetadataOptions(resource);
    const template = type === INSTANCE ? sources.find((s) => s.kind === 'resource') : undefined;
    const fromTemplate = template?.kind === 'resource' ? ownMetadataOptions(template.resource) : undefined;
    const templateUnknown = type === INSTANCE && sources.some((s) => s.kind === 'unknown');
    if (own === undefined) {
      this.warn(resource, IDS.unknown, 'its metadata options are a token: cannot tell at synth whether it requires IMDSv2. Check the value it resolves to, or acknowledge this warning.');
      return;
    }
    const options: MetadataOptions = {
      present: own.present || (fromTemplate?.present ?? false),
      httpTokens: own.httpTokens.state !== 'absent' ? own.httpTokens : fromTemplate?.httpTokens ?? own.httpTokens,
      hopLimit: own.hopLimit.state !== 'absent' ? own.hopLimit : fromTemplate?.hopLimit ?? own.hopLimit,
    };
    if (template?.kind === 'resource' && fromTemplate === undefined && own.httpTokens.state === 'absent') {
      this.warn(resource, IDS.unknown, `the metadata options of its launch template ${template.resource.node.path} are a token: cannot tell at synth whether it requires IMDSv2.`);
      return;
    }
    const via = template?.kind === 'resource' && own.httpTokens.state === 'absent' ? template.resource.node.path : undefined;
    this.judgeTokens(resource, type, options, templateUnknown, via);
    this.judgeHopLimit(resource, root, options);
  }

  private judgeTokens(resource: CfnResource, type: string, options: MetadataOptions, templateUnknown: boolean, via: string | undefined): void {
    const { httpTokens } = options;
    const fix = FIX_TOKENS[type];
    if (httpTokens.state === 'token') {
      this.warn(resource, IDS.unknown, 'its HttpTokens is a token: cannot tell at synth whether it requires IMDSv2. Check the value it resolves to, or acknowledge this warning.');
    } else if (httpTokens.state === 'set' && httpTokens.value === 'optional') {
      const message = `${resource.node.path} (${type}) sets HttpTokens to optional explicitly${via !== undefined ? ` (through its launch template ${via})` : ''}: it overrides the account default, and ${this.enforcement
        ? 'with httpTokensEnforced enabled every launch from it fails with UnsupportedOperation'
        : 'once httpTokensEnforced is enabled every launch from it fails with UnsupportedOperation'}. Fix: ${fix}, after checking with the MetadataNoToken metric that nothing on its instances still uses IMDSv1.`;
      if (this.enforcement) {
        Annotations.of(resource).addError(`[${IDS.explicitOptional}] ${message}`);
      } else {
        this.warn(resource, IDS.explicitOptional, message);
      }
    } else if (httpTokens.state === 'absent' && !templateUnknown) {
      this.warn(resource, IDS.httpTokensUnset, `${resource.node.path} (${type}) ${options.present ? 'sets metadata options without HttpTokens' : 'sets no metadata options'}: the account default for HttpTokens, or else the AMI (ImdsSupport v2.0 means required), decides whether its instances require IMDSv2. Fix: ${fix}, so that it does not depend on the account or the AMI.`);
    }
  }

  private judgeHopLimit(resource: CfnResource, root: IConstruct, options: MetadataOptions): void {
    const { hopLimit } = options;
    if (hopLimit.state === 'absent') {
      return;
    }
    const reason = containerHostReason(root, resource, this.containerHosts);
    if (reason === undefined) {
      return;
    }
    if (hopLimit.state === 'token') {
      this.warn(resource, IDS.unknown, `its hop limit is a token, and it runs containers (${reason}): cannot tell at synth whether containers reach IMDSv2.`);
    } else if (hopLimit.value === 1) {
      this.warn(resource, IDS.hopLimitOne, `${resource.node.path} runs containers (${reason}) with HttpPutResponseHopLimit 1: IMDSv2's token response does not reach its containers, so those that need instance metadata or the instance role fail once IMDSv1 is gone. Fix: set the hop limit to 2 (3 for eBPF-based CNIs), or give the containers credentials of their own (ECS task roles, EKS Pod Identity or IRSA) and acknowledge this warning.`);
    }
  }

  private warn(resource: CfnResource, id: string, message: string): void {
    Annotations.of(resource).addWarningV2(id, message.startsWith(resource.node.path) ? message : `${resource.node.path}: ${message}`);
  }
}
