module imds-consumer

go 1.26.0

require (
	github.com/aws/aws-cdk-go/awscdk/v2 v2.275.0
	github.com/aws/constructs-go/constructs/v10 v10.8.1
	github.com/aws/jsii-runtime-go v1.142.0
	github.com/cdk-imds-account-defaults/cdk-imds-account-defaults-go/cdkimdsaccountdefaults v0.0.0
)

require (
	github.com/Masterminds/semver/v3 v3.5.0 // indirect
	github.com/cdklabs/awscdk-asset-awscli-go/awscliv1/v2 v2.2.296 // indirect
	github.com/cdklabs/awscdk-asset-node-proxy-agent-go/nodeproxyagentv6/v2 v2.1.3 // indirect
	github.com/cdklabs/cloud-assembly-schema-go/awscdkcloudassemblyschema/v55 v55.0.0 // indirect
	github.com/fatih/color v1.19.0 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/yuin/goldmark v1.7.16 // indirect
	golang.org/x/lint v0.0.0-20241112194109-818c5a804067 // indirect
	golang.org/x/mod v0.42.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/telemetry v0.0.0-20261009151841-97e8ea77aa2a // indirect
	golang.org/x/tools v0.52.0 // indirect
	golang.org/x/tools/cmd/godoc v0.1.0-deprecated // indirect
	golang.org/x/tools/godoc v0.1.0-deprecated // indirect
)

// The module just built by `npx projen package:go` (test/consumer/go-package.sh).
replace github.com/cdk-imds-account-defaults/cdk-imds-account-defaults-go/cdkimdsaccountdefaults => ../../../dist/go/cdkimdsaccountdefaults

// The module's go.mod names awscliv1 v2.2.296 (from the aws-cdk-lib in our node_modules);
// the Go proxy this machine reaches refuses that version (403), and serves v2.2.292,
// the one aws-cdk-go v2.275.0 itself requires. Not needed with the public proxy.
replace github.com/cdklabs/awscdk-asset-awscli-go/awscliv1/v2 v2.2.296 => github.com/cdklabs/awscdk-asset-awscli-go/awscliv1/v2 v2.2.292
