#!/usr/bin/env bash
# The Go module (dist/go/cdkimdsaccountdefaults), built the way jsii-pacmak's Go target
# builds it: generate the sources, then `go mod tidy` and `go build ./...` with a
# separate modfile, so that dist/go holds exactly the module users get.
#
# One difference: pacmak's own build (`jsii-pacmak --target go`) resolves the module's
# go.mod as it stands, and that names the oldest aws-cdk-go we support (v2.168.0) and,
# as indirect requirements, the asset modules of the aws-cdk-lib in our node_modules.
# The Go proxy this machine reaches refuses some of those versions (403 "This module
# version is not available": awscdk v2.168.0, awscliv1 v2.2.296), while the public proxy
# serves them all. So the build modfile requires the aws-cdk-go the Go consumer app
# uses ($AWS_CDK_LIB_POLYGLOT, versions.sh) and leaves the indirect versions to it.
# The published go.mod is unchanged.
#
# Needs: .jsii (`npx projen compile`), go, the Go module proxy (or a warm module cache).
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/consumer/versions.sh
fail() { echo "go-package: FAILED: $*" >&2; exit 1; }
[ -f .jsii ] || fail ".jsii is missing: run 'npx projen compile' first"

rm -rf dist/go
npx --no-install jsii-pacmak --code-only --target go --outdir dist > /dev/null || fail "jsii-pacmak --code-only --target go"
shopt -s nullglob
mods=(dist/go/*/go.mod)
[ ${#mods[@]} -eq 1 ] || fail "expected one module in dist/go, found ${#mods[@]}"
module_dir="$(dirname "${mods[0]}")"
module="$(cd "$module_dir" && go list -m)"
echo "go-package: generated $module in $module_dir"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$module_dir" "$work/module"
cd "$work/module"
cp go.mod local.go.mod
for indirect in $(go mod edit -json -modfile local.go.mod | node -e '
  const mod = JSON.parse(require("fs").readFileSync(0, "utf8"));
  console.log((mod.Require || []).filter((r) => r.Indirect).map((r) => r.Path).join(" "));'); do
  go mod edit -modfile local.go.mod -droprequire="$indirect"
done
go mod edit -modfile local.go.mod -require="github.com/aws/aws-cdk-go/awscdk/v2@v$AWS_CDK_LIB_POLYGLOT"
go mod tidy -modfile local.go.mod || fail "go mod tidy"
go build -modfile local.go.mod ./... || fail "go build"
go vet -modfile local.go.mod . || fail "go vet"
echo "go-package: OK: $module builds and vets with github.com/aws/aws-cdk-go/awscdk/v2 v$AWS_CDK_LIB_POLYGLOT ($(ls "$OLDPWD/$module_dir"/*.go | wc -l) files in $module_dir)"
