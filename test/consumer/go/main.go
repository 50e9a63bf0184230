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
		HttpTokens:              imds.HttpTokens_REQUIRED,
		HttpTokensEnforced:      imds.HttpTokensEnforced_ENABLED,
		HttpPutResponseHopLimit: jsii.Number(2),
	})
	awscdk.NewCfnOutput(stack, jsii.String("HttpTokens"), &awscdk.CfnOutputProps{Value: defaults.EffectiveHttpTokens()})
	return stack
}

func NewOrganizationStack(scope constructs.Construct, id string) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String(id), nil)
	imds.NewImdsAccountDefaultsStackSet(stack, jsii.String("Rollout"), &imds.ImdsAccountDefaultsStackSetProps{
		HttpTokens:              imds.HttpTokens_REQUIRED,
		HttpPutResponseHopLimit: jsii.Number(2),
		OrganizationalUnitIds:   jsii.Strings("ou-abcd-12345678"),
		Regions:                 jsii.Strings("eu-west-1", "us-east-1"),
	})
	imds.NewImdsDeclarativePolicy(stack, jsii.String("Policy"), &imds.ImdsDeclarativePolicyProps{
		HttpTokens: imds.HttpTokens_REQUIRED,
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
