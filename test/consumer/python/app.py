#!/usr/bin/env python3
# The TypeScript consumer app's stacks (test/consumer/run.sh, lib/stacks.ts), as a
# Python user writes them with the package from PyPI. test/consumer/languages.sh
# checks that `cdk synth` gives byte-identical templates.
import aws_cdk as cdk
from constructs import Construct
from cdk_imds_account_defaults import (
    DriftGuardMode,
    ImdsAccountDefaults,
    ImdsAccountDefaultsStackSet,
    ImdsDeclarativePolicy,
    ImdsHttpTokens,
    ImdsHttpTokensEnforced,
    ImdsMetrics,
    ImdsStackSetPermissionsBoundary,
    ImdsStackSetTarget,
    ReadinessCheckMode,
)


class ImdsDefaultsStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        imds = ImdsAccountDefaults(
            self,
            "ImdsDefaults",
            http_tokens=ImdsHttpTokens.REQUIRED,
            http_tokens_enforced=ImdsHttpTokensEnforced.ENABLED,
            http_put_response_hop_limit=2,
            readiness_check=ReadinessCheckMode.ENFORCE_AND_REPORT,
        )
        cdk.CfnOutput(self, "HttpTokens", value=imds.effective_http_tokens)
        cdk.CfnOutput(self, "ReadinessCheckResult", value=imds.readiness_check_result)
        cdk.CfnOutput(
            self,
            "LaunchTemplatesAllowingImdsv1",
            value=cdk.Token.as_string(imds.launch_templates_allowing_imdsv1_count),
        )
        cdk.CfnOutput(self, "ClaimProblemsMetric", value=imds.metric_claim_problems().metric_name)


class OrganizationStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        rollout = ImdsAccountDefaultsStackSet(
            self,
            "Rollout",
            http_tokens=ImdsHttpTokens.REQUIRED,
            http_put_response_hop_limit=2,
            drift_guard=DriftGuardMode.REPORT_ONLY,
            permissions_boundary=ImdsStackSetPermissionsBoundary.from_policy_name("boundaries/ImdsBoundary"),
            target=ImdsStackSetTarget.from_organizational_units(
                organizational_unit_ids=["ou-abcd-12345678"],
                regions=["eu-west-1", "us-east-1"],
            ),
        )
        rollout.add_stack_instances(
            ImdsStackSetTarget.from_accounts(
                account_ids=["111111111111"],
                organizational_unit_ids=["ou-abcd-11111111"],
                regions=["eu-west-1"],
            ),
            http_tokens=ImdsHttpTokens.OPTIONAL,
        )
        cdk.CfnOutput(
            self,
            "MemberDriftMetric",
            value=rollout.metric_for_member(ImdsMetrics.DRIFT_DETECTED, "111111111111", "eu-west-1").metric_name,
        )
        ImdsDeclarativePolicy(
            self,
            "Policy",
            http_tokens=ImdsHttpTokens.REQUIRED,
            target_ids=["ou-abcd-87654321"],
        )


app = cdk.App()
ImdsDefaultsStack(app, "ImdsDefaultsStack")
OrganizationStack(app, "OrganizationStack")
app.synth()
