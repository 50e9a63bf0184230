import {
  App, Aspects, CfnParameter, Annotations as CoreAnnotations, Stack, Token,
  aws_autoscaling as autoscaling, aws_ec2 as ec2, aws_ecs as ecs, aws_eks as eks, aws_iam as iam,
} from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { IConstruct } from 'constructs';
import { ImdsAccountDefaults, ImdsEnforcementReadiness, ImdsEnforcementReadinessProps, ImdsHttpTokens, ImdsHttpTokensEnforced } from '../src';

const ENV = { account: '123456789012', region: 'eu-west-1' };
const ID = {
  optional: 'cdk-imds-account-defaults:readiness:explicitOptional',
  unset: 'cdk-imds-account-defaults:readiness:httpTokensUnset',
  hop: 'cdk-imds-account-defaults:readiness:hopLimitOneOnContainerHost',
  unknown: 'cdk-imds-account-defaults:readiness:unknown',
};

/** An app with the aspect and one stack, which `build` fills; the stack's annotations after synth. */
function check(build: (stack: Stack) => void, props: ImdsEnforcementReadinessProps | ((stack: Stack) => ImdsEnforcementReadinessProps) = {}) {
  const app = new App();
  const stack = new Stack(app, 'Stack', { env: ENV });
  build(stack);
  Aspects.of(app).add(new ImdsEnforcementReadiness(typeof props === 'function' ? props(stack) : props));
  const annotations = Annotations.fromStack(stack);
  const messages = (kind: 'warning' | 'error') => (kind === 'warning' ? annotations.findWarning('*', Match.anyValue()) : annotations.findError('*', Match.anyValue()))
    .map((m) => ({ path: m.id, text: String(m.entry.data) }));
  return { warnings: messages('warning'), errors: messages('error') };
}

/** The messages with an id (warnings end with "[ack: <id>]"; errors start with "[<id>]"). */
const withId = (list: Array<{ path: string; text: string }>, id: string) => list.filter((m) => m.text.includes(`[ack: ${id}]`) || m.text.startsWith(`[${id}]`));

type Options = ec2.CfnLaunchTemplate.MetadataOptionsProperty | ReturnType<typeof Token.asAny>;

function lt(stack: Stack, id: string, metadataOptions?: Options, userData?: string) {
  return new ec2.CfnLaunchTemplate(stack, id, { launchTemplateData: { imageId: 'ami-12345678', metadataOptions, userData } });
}

describe('launch templates', () => {
  test('explicit optional: a warning without enforcement, naming the path and the fix', () => {
    const { warnings, errors } = check((s) => lt(s, 'Lt', { httpTokens: 'optional' }));
    expect(errors).toEqual([]);
    const found = withId(warnings, ID.optional);
    expect(found).toHaveLength(1);
    expect(found[0].path).toBe('/Stack/Lt');
    expect(found[0].text).toMatch(/Stack\/Lt \(AWS::EC2::LaunchTemplate\) sets HttpTokens to optional explicitly.*once httpTokensEnforced is enabled.*Fix: set MetadataOptions.HttpTokens to required/);
  });

  test('explicit optional: an error under enforcement', () => {
    const { warnings, errors } = check((s) => lt(s, 'Lt', { httpTokens: 'optional' }), { enforcement: true });
    expect(withId(warnings, ID.optional)).toEqual([]);
    expect(withId(errors, ID.optional)).toHaveLength(1);
    expect(errors[0].text).toMatch(/^\[cdk-imds-account-defaults:readiness:explicitOptional\] Stack\/Lt .*every launch from it fails with UnsupportedOperation/);
  });

  test('no metadata options, or options without HttpTokens: the account default or the AMI decides', () => {
    const { warnings } = check((s) => {
      lt(s, 'None');
      lt(s, 'HopOnly', { httpPutResponseHopLimit: 2 });
    });
    const found = withId(warnings, ID.unset);
    expect(found.map((m) => m.path).sort()).toEqual(['/Stack/HopOnly', '/Stack/None']);
    expect(found.find((m) => m.path === '/Stack/None')!.text).toMatch(/sets no metadata options: the account default for HttpTokens, or else the AMI .* decides/);
    expect(found.find((m) => m.path === '/Stack/HopOnly')!.text).toMatch(/sets metadata options without HttpTokens/);
  });

  test('required: nothing to say, with or without enforcement', () => {
    expect(check((s) => lt(s, 'Lt', { httpTokens: 'required', httpPutResponseHopLimit: 1 }), { enforcement: true })).toEqual({ warnings: [], errors: [] });
  });

  test('the L2 LaunchTemplate: requireImdsv2 passes, httpTokens OPTIONAL does not', () => {
    const { warnings } = check((s) => {
      new ec2.LaunchTemplate(s, 'Good', { requireImdsv2: true });
      new ec2.LaunchTemplate(s, 'Bad', { httpTokens: ec2.LaunchTemplateHttpTokens.OPTIONAL });
    });
    expect(withId(warnings, ID.optional).map((m) => m.path)).toEqual(['/Stack/Bad/Resource']);
    expect(withId(warnings, ID.unset)).toEqual([]);
  });

  test('tokens are reported as unknown, never guessed', () => {
    const { warnings, errors } = check((s) => {
      const tokens = new CfnParameter(s, 'Tokens');
      lt(s, 'TokenValue', { httpTokens: tokens.valueAsString });
      lt(s, 'TokenBlock', Token.asAny(tokens.valueAsString));
    }, { enforcement: true });
    expect(errors).toEqual([]);
    expect(withId(warnings, ID.unknown).map((m) => m.path).sort()).toEqual(['/Stack/TokenBlock', '/Stack/TokenValue']);
    expect(withId(warnings, ID.optional)).toEqual([]);
    expect(withId(warnings, ID.unset)).toEqual([]);
  });
});

describe('launch configurations', () => {
  const lc = (s: Stack, id: string, metadataOptions?: autoscaling.CfnLaunchConfiguration.MetadataOptionsProperty) =>
    new autoscaling.CfnLaunchConfiguration(s, id, { imageId: 'ami-12345678', instanceType: 't3.micro', metadataOptions });

  test('explicit optional, unset and required', () => {
    const { warnings, errors } = check((s) => {
      lc(s, 'Optional', { httpTokens: 'optional' });
      lc(s, 'Unset');
      lc(s, 'Required', { httpTokens: 'required' });
    }, { enforcement: true });
    expect(withId(errors, ID.optional).map((m) => m.path)).toEqual(['/Stack/Optional']);
    expect(errors[0].text).toMatch(/AWS::AutoScaling::LaunchConfiguration.*requireImdsv2: true/);
    expect(withId(warnings, ID.unset).map((m) => m.path)).toEqual(['/Stack/Unset']);
  });

  test('an Auto Scaling group of an ECS capacity provider with hop limit 1', () => {
    const { warnings } = check((s) => {
      const config = lc(s, 'Lc', { httpTokens: 'required', httpPutResponseHopLimit: 1 });
      const group = new autoscaling.CfnAutoScalingGroup(s, 'Asg', { maxSize: '1', minSize: '0', launchConfigurationName: config.ref, availabilityZones: ['eu-west-1a'] });
      new ecs.CfnCapacityProvider(s, 'Cp', { autoScalingGroupProvider: { autoScalingGroupArn: group.ref } });
    });
    const found = withId(warnings, ID.hop);
    expect(found.map((m) => m.path)).toEqual(['/Stack/Lc']);
    expect(found[0].text).toMatch(/runs containers \(Auto Scaling group Stack\/Asg, the capacity of an ECS capacity provider, launches from it\) with HttpPutResponseHopLimit 1.*Fix: set the hop limit to 2/);
  });
});

describe('instances', () => {
  test('an instance without a launch template sets no options; one launched from a template gets the template\'s', () => {
    const { warnings, errors } = check((s) => {
      new ec2.CfnInstance(s, 'Bare', { imageId: 'ami-12345678' });
      const optional = lt(s, 'OptionalLt', { httpTokens: 'optional' });
      new ec2.CfnInstance(s, 'FromOptional', { launchTemplate: { launchTemplateId: optional.ref, version: optional.attrLatestVersionNumber } });
      const required = lt(s, 'RequiredLt', { httpTokens: 'required' });
      new ec2.CfnInstance(s, 'FromRequired', { launchTemplate: { launchTemplateName: 'by-name', version: '$Default' } });
      required.launchTemplateName = 'by-name';
    }, { enforcement: true });
    expect(withId(warnings, ID.unset).map((m) => m.path)).toEqual(['/Stack/Bare']);
    expect(withId(errors, ID.optional).map((m) => m.path).sort()).toEqual(['/Stack/FromOptional', '/Stack/OptionalLt']);
    expect(withId(errors, ID.optional).find((m) => m.path === '/Stack/FromOptional')!.text).toMatch(/optional explicitly \(through its launch template Stack\/OptionalLt\)/);
    expect(withId(warnings, ID.unknown)).toEqual([]);
  });

  test('the L2 Instance: without requireImdsv2 unset, with it nothing', () => {
    const { warnings } = check((s) => {
      const vpc = new ec2.Vpc(s, 'Vpc', { natGateways: 0, maxAzs: 1 });
      const common = { vpc, instanceType: new ec2.InstanceType('t3.micro'), machineImage: ec2.MachineImage.genericLinux({ 'eu-west-1': 'ami-12345678' }) };
      new ec2.Instance(s, 'Plain', common);
      new ec2.Instance(s, 'Strict', { ...common, requireImdsv2: true });
    });
    expect(withId(warnings, ID.unset).map((m) => m.path)).toEqual(['/Stack/Plain/Resource']);
  });

  test('a launch template outside the app is unknown', () => {
    const { warnings } = check((s) => new ec2.CfnInstance(s, 'Outside', { launchTemplate: { launchTemplateId: 'lt-0123456789abcdef0', version: '1' } }));
    const found = withId(warnings, ID.unknown);
    expect(found.map((m) => m.path)).toEqual(['/Stack/Outside']);
    expect(found[0].text).toMatch(/launchTemplate names the launch template "lt-0123456789abcdef0", which is not a launch template of this app/);
    expect(withId(warnings, ID.unset)).toEqual([]);
  });
});

describe('Auto Scaling groups', () => {
  test('the templates of a mixed instances policy, its overrides included, are followed; other versions and outside templates are unknown', () => {
    const { warnings, errors } = check((s) => {
      const main = lt(s, 'Main', { httpTokens: 'required' });
      const override = lt(s, 'Override', { httpTokens: 'optional' });
      new autoscaling.CfnAutoScalingGroup(s, 'Mixed', {
        maxSize: '1',
        minSize: '0',
        availabilityZones: ['eu-west-1a'],
        mixedInstancesPolicy: {
          launchTemplate: {
            launchTemplateSpecification: { launchTemplateId: main.ref, version: main.attrDefaultVersionNumber },
            overrides: [{ instanceType: 't3.large', launchTemplateSpecification: { launchTemplateId: override.ref, version: '$Latest' } }],
          },
        },
      });
      new autoscaling.CfnAutoScalingGroup(s, 'OldVersion', {
        maxSize: '1', minSize: '0', availabilityZones: ['eu-west-1a'], launchTemplate: { launchTemplateId: main.ref, version: '3' },
      });
      new autoscaling.CfnAutoScalingGroup(s, 'Outside', {
        maxSize: '1', minSize: '0', availabilityZones: ['eu-west-1a'], launchTemplate: { launchTemplateName: 'packer-built', version: '$Latest' },
      });
    }, { enforcement: true });
    expect(withId(errors, ID.optional).map((m) => m.path)).toEqual(['/Stack/Override']);
    const unknown = withId(warnings, ID.unknown);
    expect(unknown.map((m) => m.path).sort()).toEqual(['/Stack/OldVersion', '/Stack/Outside']);
    expect(unknown.find((m) => m.path === '/Stack/OldVersion')!.text).toMatch(/uses version "3" of Stack\/Main, which may not hold the metadata options/);
    expect(unknown.find((m) => m.path === '/Stack/Outside')!.text).toMatch(/"packer-built", which is not a launch template of this app/);
  });

  test('an ECS cluster\'s capacity (L2): the template joins the cluster in its user data; hop limit 1 warns', () => {
    const { warnings } = check((s) => {
      const vpc = new ec2.Vpc(s, 'Vpc', { natGateways: 0, maxAzs: 1, subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }] });
      const cluster = new ecs.Cluster(s, 'Cluster', { vpc });
      const template = new ec2.LaunchTemplate(s, 'Lt', {
        machineImage: ecs.EcsOptimizedImage.amazonLinux2023(),
        instanceType: new ec2.InstanceType('t3.micro'),
        requireImdsv2: true,
        httpPutResponseHopLimit: 1,
        userData: ec2.UserData.forLinux(),
        role: new iam.Role(s, 'Role', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') }),
      });
      const group = new autoscaling.AutoScalingGroup(s, 'Asg', { vpc, launchTemplate: template });
      cluster.addAsgCapacityProvider(new ecs.AsgCapacityProvider(s, 'Cp', { autoScalingGroup: group, enableManagedTerminationProtection: false }));
    });
    const found = withId(warnings, ID.hop);
    expect(found.map((m) => m.path)).toEqual(['/Stack/Lt/Resource']);
    expect(found[0].text).toMatch(/runs containers \((its user data joins an ECS cluster \(ECS_CLUSTER\)|Auto Scaling group Stack\/Asg\/ASG, the capacity of an ECS capacity provider, launches from it)\)/);
  });
});

describe('references the aspect cannot follow', () => {
  test('tokens in place of launch template data, lists and specifications', () => {
    const { warnings } = check((s) => {
      const param = new CfnParameter(s, 'P');
      const dataToken = new ec2.CfnLaunchTemplate(s, 'DataToken', { launchTemplateData: Token.asAny(param.valueAsString) });
      new ec2.CfnInstance(s, 'FromDataToken', { launchTemplate: { launchTemplateId: dataToken.ref, version: '$Latest' } });
      new autoscaling.CfnAutoScalingGroup(s, 'MixedToken', { maxSize: '1', minSize: '0', mixedInstancesPolicy: Token.asAny(param.valueAsString) });
      new autoscaling.CfnAutoScalingGroup(s, 'FromInstance', { maxSize: '1', minSize: '0', instanceId: 'i-0123456789abcdef0' });
      new ec2.CfnEC2Fleet(s, 'FleetToken', { launchTemplateConfigs: Token.asAny(param.valueAsString), targetCapacitySpecification: { totalTargetCapacity: 1 } });
      new ec2.CfnInstance(s, 'SpecToken', { launchTemplate: Token.asAny(param.valueAsString) });
    });
    expect(withId(warnings, ID.unknown).map((m) => m.path).sort())
      .toEqual(['/Stack/DataToken', '/Stack/FleetToken', '/Stack/FromDataToken', '/Stack/FromInstance', '/Stack/MixedToken', '/Stack/SpecToken']);
    expect(withId(warnings, ID.unset)).toEqual([]);
  });

  test('launch configurations by name: one of the app is followed, another is unknown', () => {
    const { warnings } = check((s) => {
      new autoscaling.CfnLaunchConfiguration(s, 'Lc', {
        imageId: 'ami-12345678', instanceType: 't3.micro', launchConfigurationName: 'nodes', metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 1 },
      });
      const byName = new autoscaling.CfnAutoScalingGroup(s, 'ByName', { maxSize: '1', minSize: '0', launchConfigurationName: 'nodes' });
      new autoscaling.CfnAutoScalingGroup(s, 'Elsewhere', { maxSize: '1', minSize: '0', launchConfigurationName: 'legacy' });
      new ecs.CfnCapacityProvider(s, 'Cp', { autoScalingGroupProvider: { autoScalingGroupArn: byName.ref } });
    });
    expect(withId(warnings, ID.hop).map((m) => m.path)).toEqual(['/Stack/Lc']);
    expect(withId(warnings, ID.unknown).map((m) => m.path)).toEqual(['/Stack/Elsewhere']);
  });
});

describe('EKS node groups and EC2 fleets', () => {
  const nodegroup = (s: Stack, id: string, launchTemplate?: eks.CfnNodegroup.LaunchTemplateSpecificationProperty) =>
    new eks.CfnNodegroup(s, id, { clusterName: 'cluster', nodeRole: 'arn:aws:iam::123456789012:role/node', subnets: ['subnet-1'], launchTemplate });

  test('a node group\'s template with hop limit 1 warns; a node group without a template is unknown', () => {
    const { warnings } = check((s) => {
      const template = lt(s, 'NodeLt', { httpTokens: 'required', httpPutResponseHopLimit: 1 });
      nodegroup(s, 'Nodes', { id: template.ref, version: template.attrLatestVersionNumber });
      lt(s, 'Unused', { httpTokens: 'required', httpPutResponseHopLimit: 1 });
      nodegroup(s, 'NoTemplate');
    });
    expect(withId(warnings, ID.hop).map((m) => m.path)).toEqual(['/Stack/NodeLt']);
    expect(withId(warnings, ID.hop)[0].text).toMatch(/EKS node group Stack\/Nodes launches from it/);
    expect(withId(warnings, ID.unknown).map((m) => m.path)).toEqual(['/Stack/NoTemplate']);
  });

  test('a hop limit that is a token on a container host is unknown', () => {
    const { warnings } = check((s) => {
      const template = lt(s, 'NodeLt', { httpTokens: 'required', httpPutResponseHopLimit: new CfnParameter(s, 'Hop', { type: 'Number' }).valueAsNumber });
      nodegroup(s, 'Nodes', { id: template.ref });
    });
    expect(withId(warnings, ID.unknown).map((m) => m.path)).toEqual(['/Stack/NodeLt']);
    expect(withId(warnings, ID.hop)).toEqual([]);
  });

  test('EC2 fleets and Spot fleets: their templates are followed', () => {
    const { errors, warnings } = check((s) => {
      const template = lt(s, 'FleetLt', { httpTokens: 'optional' });
      new ec2.CfnEC2Fleet(s, 'Fleet', {
        launchTemplateConfigs: [{ launchTemplateSpecification: { launchTemplateId: template.ref, version: template.attrLatestVersionNumber } }],
        targetCapacitySpecification: { totalTargetCapacity: 1 },
      });
      new ec2.CfnSpotFleet(s, 'Spot', {
        spotFleetRequestConfigData: {
          iamFleetRole: 'arn:aws:iam::123456789012:role/fleet',
          targetCapacity: 1,
          launchTemplateConfigs: [{ launchTemplateSpecification: { launchTemplateId: 'lt-0123456789abcdef0', version: '$Latest' } }],
        },
      });
    }, { enforcement: true });
    expect(withId(errors, ID.optional).map((m) => m.path)).toEqual(['/Stack/FleetLt']);
    expect(withId(warnings, ID.unknown).map((m) => m.path)).toEqual(['/Stack/Spot']);
  });
});

describe('container hosts', () => {
  test('user data that joins an ECS or EKS cluster', () => {
    const { warnings } = check((s) => {
      lt(s, 'Ecs', { httpTokens: 'required', httpPutResponseHopLimit: 1 }, 'echo ECS_CLUSTER=prod >> /etc/ecs/ecs.config');
      lt(s, 'Eks', { httpTokens: 'required', httpPutResponseHopLimit: 1 }, '/etc/eks/bootstrap.sh prod');
      lt(s, 'Web', { httpTokens: 'required', httpPutResponseHopLimit: 1 }, 'yum install -y nginx');
    });
    expect(withId(warnings, ID.hop).map((m) => m.path).sort()).toEqual(['/Stack/Ecs', '/Stack/Eks']);
  });

  test('containerHosts lists others: the construct itself, or a launcher that uses the template', () => {
    let listed: IConstruct[] = [];
    const { warnings } = check((s) => {
      const direct = lt(s, 'Direct', { httpTokens: 'required', httpPutResponseHopLimit: 1 });
      const used = lt(s, 'Used', { httpTokens: 'required', httpPutResponseHopLimit: 1 });
      const group = new autoscaling.CfnAutoScalingGroup(s, 'K8s', {
        maxSize: '1', minSize: '0', availabilityZones: ['eu-west-1a'], launchTemplate: { launchTemplateId: used.ref, version: used.attrLatestVersionNumber },
      });
      listed = [direct, group];
    }, () => ({ containerHosts: listed }));
    const found = withId(warnings, ID.hop);
    expect(found.map((m) => m.path).sort()).toEqual(['/Stack/Direct', '/Stack/Used']);
    expect(found.find((m) => m.path === '/Stack/Used')!.text).toMatch(/Stack\/K8s launches from it and is listed in containerHosts/);
  });
});

describe('acknowledging and errors', () => {
  test('a warning is acknowledged by its id, on a scope above the L1 resource', () => {
    // aws-cdk-lib 2.168 looks for acknowledgements made before synth on the scopes above a
    // construct, not on the construct itself: acknowledge on the L2 construct or the stack.
    const { warnings } = check((s) => {
      lt(s, 'Lt');
      new ec2.LaunchTemplate(s, 'L2');
      new ec2.LaunchTemplate(s, 'Other');
      CoreAnnotations.of(s.node.findChild('L2')).acknowledgeWarning(ID.unset, 'the AMI requires IMDSv2 (ImdsSupport v2.0)');
    });
    expect(withId(warnings, ID.unset).map((m) => m.path).sort()).toEqual(['/Stack/Lt', '/Stack/Other/Resource']);
    const acknowledgedOnStack = check((s) => {
      lt(s, 'Lt');
      CoreAnnotations.of(s).acknowledgeWarning(ID.unset, 'every AMI of this stack requires IMDSv2');
    });
    expect(withId(acknowledgedOnStack.warnings, ID.unset)).toEqual([]);
  });

  test.each([
    [{ enforcement: 'yes' as unknown as boolean }, /ImdsEnforcementReadiness: enforcement must be true or false; got "yes"/],
    [{ containerHosts: ['Stack/Lt'] as unknown as IConstruct[] }, /ImdsEnforcementReadiness: containerHosts must be a list of constructs/],
  ])('props %j', (props, error) => {
    expect(() => new ImdsEnforcementReadiness(props)).toThrow(error);
  });
});

describe('ImdsAccountDefaults: checkEnforcementReadiness', () => {
  function appWith(props: { checkEnforcementReadiness?: boolean; httpTokensEnforced?: ImdsHttpTokensEnforced }, stacks = 1) {
    const app = new App();
    const stack = new Stack(app, 'Stack', { env: ENV });
    lt(stack, 'Lt', { httpTokens: 'optional' });
    for (let i = 0; i < stacks; i++) {
      const own = new Stack(app, `Imds${i}`, { env: { account: ENV.account, region: `eu-west-${i + 1}` } });
      new ImdsAccountDefaults(own, 'Imds', { httpTokens: ImdsHttpTokens.REQUIRED, ...props });
    }
    const annotations = Annotations.fromStack(stack);
    return {
      app,
      errors: annotations.findError('/Stack/Lt', Match.stringLikeRegexp('explicitOptional')),
      warnings: annotations.findWarning('/Stack/Lt', Match.stringLikeRegexp('explicitOptional')),
    };
  }

  test('off by default', () => {
    const { app, errors, warnings } = appWith({ httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED });
    expect([...errors, ...warnings]).toEqual([]);
    expect(Aspects.of(app).all.filter((a) => a instanceof ImdsEnforcementReadiness)).toEqual([]);
  });

  test('with enforcement enabled: the app\'s explicit optional is an error', () => {
    const { errors } = appWith({ checkEnforcementReadiness: true, httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED });
    expect(errors).toHaveLength(1);
  });

  test('without enforcement: a warning; added once for several constructs', () => {
    const { app, errors, warnings } = appWith({ checkEnforcementReadiness: true }, 2);
    expect(errors).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(Aspects.of(app).all.filter((a) => a instanceof ImdsEnforcementReadiness)).toHaveLength(1);
  });
});
