// The TypeScript consumer app's stacks (test/consumer/run.sh, lib/stacks.ts), as a
// Java user writes them with the package from Maven Central. test/consumer/languages.sh
// checks that `cdk synth` gives byte-identical templates.
package imds.consumer;

import java.util.List;

import io.github.cdkimdsaccountdefaults.DriftGuardMode;
import io.github.cdkimdsaccountdefaults.ImdsAccountDefaults;
import io.github.cdkimdsaccountdefaults.ImdsAccountDefaultsStackSet;
import io.github.cdkimdsaccountdefaults.ImdsAccountsTargetOptions;
import io.github.cdkimdsaccountdefaults.ImdsDeclarativePolicy;
import io.github.cdkimdsaccountdefaults.ImdsHttpTokens;
import io.github.cdkimdsaccountdefaults.ImdsHttpTokensEnforced;
import io.github.cdkimdsaccountdefaults.ImdsMetrics;
import io.github.cdkimdsaccountdefaults.ImdsOrganizationalUnitsTargetOptions;
import io.github.cdkimdsaccountdefaults.ImdsSettings;
import io.github.cdkimdsaccountdefaults.ImdsStackSetPermissionsBoundary;
import io.github.cdkimdsaccountdefaults.ImdsStackSetTarget;
import io.github.cdkimdsaccountdefaults.ReadinessCheckMode;
import software.amazon.awscdk.App;
import software.amazon.awscdk.CfnOutput;
import software.amazon.awscdk.Stack;
import software.amazon.awscdk.Token;
import software.constructs.Construct;

public final class ImdsConsumerApp {
    static final class ImdsDefaultsStack extends Stack {
        ImdsDefaultsStack(final Construct scope, final String id) {
            super(scope, id);
            ImdsAccountDefaults imds = ImdsAccountDefaults.Builder.create(this, "ImdsDefaults")
                    .httpTokens(ImdsHttpTokens.REQUIRED)
                    .httpTokensEnforced(ImdsHttpTokensEnforced.ENABLED)
                    .httpPutResponseHopLimit(2)
                    .readinessCheck(ReadinessCheckMode.ENFORCE_AND_REPORT)
                    .build();
            CfnOutput.Builder.create(this, "HttpTokens").value(imds.getEffectiveHttpTokens()).build();
            CfnOutput.Builder.create(this, "ReadinessCheckResult").value(imds.getReadinessCheckResult()).build();
            CfnOutput.Builder.create(this, "LaunchTemplatesAllowingImdsv1")
                    .value(Token.asString(imds.getLaunchTemplatesAllowingImdsv1Count()))
                    .build();
            CfnOutput.Builder.create(this, "ClaimProblemsMetric").value(imds.metricClaimProblems().getMetricName()).build();
        }
    }

    static final class OrganizationStack extends Stack {
        OrganizationStack(final Construct scope, final String id) {
            super(scope, id);
            ImdsAccountDefaultsStackSet rollout = ImdsAccountDefaultsStackSet.Builder.create(this, "Rollout")
                    .httpTokens(ImdsHttpTokens.REQUIRED)
                    .httpPutResponseHopLimit(2)
                    .driftGuard(DriftGuardMode.REPORT_ONLY)
                    .permissionsBoundary(ImdsStackSetPermissionsBoundary.fromPolicyName("boundaries/ImdsBoundary"))
                    .target(ImdsStackSetTarget.fromOrganizationalUnits(ImdsOrganizationalUnitsTargetOptions.builder()
                            .organizationalUnitIds(List.of("ou-abcd-12345678"))
                            .regions(List.of("eu-west-1", "us-east-1"))
                            .build()))
                    .build();
            rollout.addStackInstances(
                    ImdsStackSetTarget.fromAccounts(ImdsAccountsTargetOptions.builder()
                            .accountIds(List.of("111111111111"))
                            .organizationalUnitIds(List.of("ou-abcd-11111111"))
                            .regions(List.of("eu-west-1"))
                            .build()),
                    ImdsSettings.builder().httpTokens(ImdsHttpTokens.OPTIONAL).build());
            CfnOutput.Builder.create(this, "MemberDriftMetric")
                    .value(rollout.metricForMember(ImdsMetrics.DRIFT_DETECTED, "111111111111", "eu-west-1").getMetricName())
                    .build();
            ImdsDeclarativePolicy.Builder.create(this, "Policy")
                    .httpTokens(ImdsHttpTokens.REQUIRED)
                    .targetIds(List.of("ou-abcd-87654321"))
                    .build();
        }
    }

    public static void main(final String[] args) {
        App app = new App();
        new ImdsDefaultsStack(app, "ImdsDefaultsStack");
        new OrganizationStack(app, "OrganizationStack");
        app.synth();
    }

    private ImdsConsumerApp() {
    }
}
