// The TypeScript consumer app's stacks (test/consumer/run.sh, lib/stacks.ts), as a
// Go user writes them with the module from the Go proxy. test/consumer/languages.sh
// checks that `cdk synth` gives byte-identical templates.
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	imds "github.com/cdk-imds-account-defaults/cdk-imds-account-defaults-go/cdkimdsaccountdefaults"
)

func NewImdsDefaultsStack(scope constructs.Construct, id string) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String(id), nil)
	defaults := imds.NewImdsAccountDefaults(stack, jsii.String("ImdsDefaults"), &imds.ImdsAccountDefaultsProps{
		HttpTokens:              imds.ImdsHttpTokens_REQUIRED,
		HttpTokensEnforced:      imds.ImdsHttpTokensEnforced_ENABLED,
		HttpPutResponseHopLimit: jsii.Number(2),
		ReadinessCheck:          imds.ReadinessCheckMode_ENFORCE_AND_REPORT,
	})
	awscdk.NewCfnOutput(stack, jsii.String("HttpTokens"), &awscdk.CfnOutputProps{Value: defaults.EffectiveHttpTokens()})
	awscdk.NewCfnOutput(stack, jsii.String("ReadinessCheckResult"), &awscdk.CfnOutputProps{Value: defaults.ReadinessCheckResult()})
	awscdk.NewCfnOutput(stack, jsii.String("LaunchTemplatesAllowingImdsv1"), &awscdk.CfnOutputProps{
		Value: awscdk.Token_AsString(defaults.LaunchTemplatesAllowingImdsv1Count(), nil),
	})
	awscdk.NewCfnOutput(stack, jsii.String("ClaimProblemsMetric"), &awscdk.CfnOutputProps{Value: defaults.MetricClaimProblems(nil).MetricName()})
	return stack
}

func NewOrganizationStack(scope constructs.Construct, id string) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String(id), nil)
	rollout := imds.NewImdsAccountDefaultsStackSet(stack, jsii.String("Rollout"), &imds.ImdsAccountDefaultsStackSetProps{
		HttpTokens:              imds.ImdsHttpTokens_REQUIRED,
		HttpPutResponseHopLimit: jsii.Number(2),
		DriftGuard:              imds.DriftGuardMode_REPORT_ONLY,
		PermissionsBoundary:     imds.ImdsStackSetPermissionsBoundary_FromPolicyName(jsii.String("boundaries/ImdsBoundary")),
		Target: imds.ImdsStackSetTarget_FromOrganizationalUnits(&imds.ImdsOrganizationalUnitsTargetOptions{
			OrganizationalUnitIds: jsii.Strings("ou-abcd-12345678"),
			Regions:               jsii.Strings("eu-west-1", "us-east-1"),
		}),
	})
	rollout.AddStackInstances(
		imds.ImdsStackSetTarget_FromAccounts(&imds.ImdsAccountsTargetOptions{
			AccountIds:            jsii.Strings("111111111111"),
			OrganizationalUnitIds: jsii.Strings("ou-abcd-11111111"),
			Regions:               jsii.Strings("eu-west-1"),
		}),
		&imds.ImdsSettings{HttpTokens: imds.ImdsHttpTokens_OPTIONAL},
	)
	awscdk.NewCfnOutput(stack, jsii.String("MemberDriftMetric"), &awscdk.CfnOutputProps{
		Value: rollout.MetricForMember(imds.ImdsMetrics_DRIFT_DETECTED(), jsii.String("111111111111"), jsii.String("eu-west-1"), nil).MetricName(),
	})
	imds.NewImdsDeclarativePolicy(stack, jsii.String("Policy"), &imds.ImdsDeclarativePolicyProps{
		HttpTokens: imds.ImdsHttpTokens_REQUIRED,
		TargetIds:  jsii.Strings("ou-abcd-87654321"),
	})
	return stack
}

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	NewImdsDefaultsStack(app, "ImdsDefaultsStack")
	NewOrganizationStack(app, "OrganizationStack")
	app.Synth(nil)
}
