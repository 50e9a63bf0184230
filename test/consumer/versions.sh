# Exact versions for the consumer apps (sourced by run.sh and languages.sh): what a
# new app gets today, pinned so that a run is reproducible.

# TypeScript (npm): the newest aws-cdk-lib, the top of our peer range.
AWS_CDK_LIB=2.276.0
CONSTRUCTS=10.8.1
# aws-cdk@3.0.0 cannot read the cloud assemblies of current aws-cdk-lib; 2.1148.x can.
AWS_CDK_CLI=2.1148.1
JEST=30.5.2
TS_JEST=29.4.15
TYPES_JEST=30.0.0
TYPES_NODE=22.20.5
TYPESCRIPT=6.0.3
TS_NODE=10.9.2
# cdk-nag 3 (npm latest; needs aws-cdk-lib >= 2.257): the packs as validation plugins.
CDK_NAG3=3.0.2
# cdk-nag 2 for the consumer app (installed as cdk-nag2): the newest 2.x, whose peer range
# (^2.176.0) takes the app's aws-cdk-lib. The project's own suite uses 2.36.50 (.projenrc.ts).
CDK_NAG2=2.37.51

# Python and Go: the newest aws-cdk-lib that both PyPI (aws-cdk-lib, up to 2.275.0)
# and the Go proxy (github.com/aws/aws-cdk-go/awscdk/v2: v2.230.0, v2.257.0,
# v2.258.0, v2.275.0, v2.276.0) serve to this machine. The TypeScript app also
# synthesizes with it once, as the reference their templates must match byte for
# byte. The Python pins are in python/requirements.txt, the Go ones in go/go.mod.
AWS_CDK_LIB_POLYGLOT=2.275.0

# Java: the newest aws-cdk-lib that Maven Central (software.amazon.awscdk:aws-cdk-lib)
# serves to this machine, within our peer range. The TypeScript app synthesizes with it
# too (run.sh, dist/consumer/typescript-$AWS_CDK_LIB_JAVA). The Maven pins are in
# java/pom.xml (cdk.version, constructs.version); languages.sh checks that they agree.
AWS_CDK_LIB_JAVA=2.263.0
