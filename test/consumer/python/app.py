#!/usr/bin/env python3
# The TypeScript consumer app's stacks (test/consumer/run.sh, lib/stacks.ts), as a
# Python user writes them with the package from PyPI. test/consumer/languages.sh
# checks that `cdk synth` gives byte-identical templates.
import aws_cdk as cdk
from constructs import Construct
from cdk_imds_account_defaults import (
    HttpTokens,
    HttpTokensEnforced,
    ImdsAccountDefaults,
    ImdsAccountDefaultsStackSet,
    ImdsDeclarativePolicy,
)


class ImdsDefaultsStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        imds = ImdsAccountDefaults(
            self,
            "ImdsDefaults",
            http_tokens=HttpTokens.REQUIRED,
            http_tokens_enforced=HttpTokensEnforced.ENABLED,
            http_put_response_hop_limit=2,
        )
        cdk.CfnOutput(self, "HttpTokens", value=imds.effective_http_tokens)


class OrganizationStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        ImdsAccountDefaultsStackSet(
            self,
            "Rollout",
            http_tokens=HttpTokens.REQUIRED,
            http_put_response_hop_limit=2,
            organizational_unit_ids=["ou-abcd-12345678"],
            regions=["eu-west-1", "us-east-1"],
        )
        ImdsDeclarativePolicy(
            self,
            "Policy",
            http_tokens=HttpTokens.REQUIRED,
            target_ids=["ou-abcd-87654321"],
        )


app = cdk.App()
ImdsDefaultsStack(app, "ImdsDefaultsStack")
OrganizationStack(app, "OrganizationStack")
app.synth()
