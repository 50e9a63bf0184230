#!/usr/bin/env python3
# ImdsEnforcementReadiness (the synth-time readiness aspect) as a Python user runs it:
# an IAspect implemented in TypeScript, applied from Python to L1 resources written in
# Python, with a list of constructs (container_hosts) crossing the jsii boundary.
# test/consumer/languages.sh runs it with the wheel just built; it exits non-zero when a
# finding is missing, misplaced or at the wrong level.
import sys

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk.assertions import Annotations, Match
from cdk_imds_account_defaults import ImdsEnforcementReadiness

ID = "cdk-imds-account-defaults:readiness:"
problems = []


def metadata(**options):
    return ec2.CfnLaunchTemplate.LaunchTemplateDataProperty(
        metadata_options=ec2.CfnLaunchTemplate.MetadataOptionsProperty(**options) if options else None,
    )


def synth(enforcement: bool):
    app = cdk.App()
    stack = cdk.Stack(app, "Readiness")
    ec2.CfnLaunchTemplate(stack, "Optional", launch_template_data=metadata(http_tokens="optional"))
    ec2.CfnLaunchTemplate(stack, "Unset", launch_template_data=metadata())
    node_lt = ec2.CfnLaunchTemplate(stack, "NodeLt", launch_template_data=metadata(http_tokens="required", http_put_response_hop_limit=1))
    eks.CfnNodegroup(
        stack,
        "Nodes",
        cluster_name="cluster",
        node_role="arn:aws:iam::111111111111:role/nodes",
        subnets=["subnet-12345678"],
        launch_template=eks.CfnNodegroup.LaunchTemplateSpecificationProperty(id=node_lt.ref, version=node_lt.attr_latest_version_number),
    )
    tokens = cdk.CfnParameter(stack, "Tokens", default="required")
    ec2.CfnLaunchTemplate(stack, "TokenLt", launch_template_data=metadata(http_tokens=tokens.value_as_string))
    autoscaling.CfnAutoScalingGroup(
        stack,
        "Outside",
        max_size="1",
        min_size="0",
        vpc_zone_identifier=["subnet-12345678"],
        launch_template=autoscaling.CfnAutoScalingGroup.LaunchTemplateSpecificationProperty(launch_template_name="packer-built", version="$Latest"),
    )
    cdk.Aspects.of(app).add(ImdsEnforcementReadiness(enforcement=enforcement, container_hosts=[]))
    return Annotations.from_stack(stack)


def findings(messages):
    return sorted((m.id, str(m.entry.data)) for m in messages)


def expect(what, messages, path, finding):
    if not any(p == path and ID + finding in text for p, text in findings(messages)):
        problems.append(f"{what}: no {finding} on {path}; got {findings(messages)}")


for enforcement in (False, True):
    annotations = synth(enforcement)
    warnings = annotations.find_warning("*", Match.any_value())
    errors = annotations.find_error("*", Match.any_value())
    label = f"enforcement={enforcement}"
    expect(f"{label}, {'error' if enforcement else 'warning'}", errors if enforcement else warnings, "/Readiness/Optional", "explicitOptional")
    expect(f"{label}, warning", warnings, "/Readiness/Unset", "httpTokensUnset")
    expect(f"{label}, warning", warnings, "/Readiness/NodeLt", "hopLimitOneOnContainerHost")
    expect(f"{label}, warning", warnings, "/Readiness/TokenLt", "unknown")
    expect(f"{label}, warning", warnings, "/Readiness/Outside", "unknown")
    expected_errors = 1 if enforcement else 0
    if len(errors) != expected_errors:
        problems.append(f"{label}: {len(errors)} errors, expected {expected_errors}: {findings(errors)}")
    print(f"readiness aspect ({label}): {len(warnings)} warnings, {len(errors)} errors")

if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print("readiness aspect: every finding where the TypeScript tests put it")
