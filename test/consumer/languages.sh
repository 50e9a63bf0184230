#!/usr/bin/env bash
# The Python, Go and Java consumer apps (test/consumer/python, test/consumer/go,
# test/consumer/java): the stacks of the TypeScript consumer app, written as a user of
# each language writes them, with the package just built (dist/python's wheel, dist/go's
# module, dist/java's Maven repository) and aws-cdk-lib from the language's own registry:
# $AWS_CDK_LIB_POLYGLOT for Python and Go, $AWS_CDK_LIB_JAVA for Java (versions.sh;
# Python pins in python/requirements.txt, Go pins in go/go.mod and go/go.sum, Java pins
# in java/pom.xml). Each runs through `cdk synth` (the npm CLI, as for TypeScript) with
# the same feature flags, and every template must be byte-identical to the TypeScript
# app's with the same aws-cdk-lib (dist/consumer/typescript and
# dist/consumer/typescript-$AWS_CDK_LIB_JAVA, written by run.sh).
#
# Usage: languages.sh [python] [go] [java]   (all three when none is given)
# Needs: `npx projen package:languages` (or package:python, package:go, package:java),
# `npx projen test:consumer`; python3 with venv and pip (PyPI or a warm pip cache), go
# (the Go proxy or a warm module cache), java 17 and mvn (Maven Central or a warm
# ~/.m2), the npm registry (or a warm npm cache) for the CDK CLI.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
source test/consumer/versions.sh

started=$SECONDS
step() { echo "languages: [$((SECONDS - started))s] $*"; }
fail() { echo "languages: FAILED: $*" >&2; exit 1; }

LANGUAGES=("$@")
[ ${#LANGUAGES[@]} -gt 0 ] || LANGUAGES=(python go java)

# reference <aws-cdk-lib version>: the TypeScript app's templates with that aws-cdk-lib (run.sh, step 7).
reference() {
  local dir="$ROOT/dist/consumer/typescript"
  [ "$1" = "$AWS_CDK_LIB_POLYGLOT" ] || dir="$dir-$1"
  [ -f "$dir/cdk.json" ] || fail "no reference templates in ${dir#"$ROOT/"}: run 'npx projen test:consumer' first"
  [ "$(cat "$dir/aws-cdk-lib.version")" = "$1" ] || fail "the reference in ${dir#"$ROOT/"} was synthesized with aws-cdk-lib $(cat "$dir/aws-cdk-lib.version"), not $1: run 'npx projen test:consumer' again"
  echo "$dir"
}

work="$(mktemp -d "${TMPDIR:-/tmp}/imds-languages.XXXXXX")"
[ "${KEEP:-}" = 1 ] && echo "languages: keeping $work" || trap 'rm -rf "$work"' EXIT
unset NODE_PATH NODE_OPTIONS
export CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=true
# The jsii runtime of each language runs the library in this Node.js; its end-of-life notice is not ours.
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1

step "installing the CDK CLI aws-cdk@$AWS_CDK_CLI"
npm install --prefix "$work/cli" --prefer-offline --no-audit --no-fund --loglevel=error "aws-cdk@$AWS_CDK_CLI" > "$work/cli.log" 2>&1 || { cat "$work/cli.log" >&2; fail "npm install aws-cdk@$AWS_CDK_CLI"; }
CDK=("$work/cli/node_modules/.bin/cdk" --no-notices --no-version-reporting)

# synth <language> <app command> <reference>: cdk synth in $work/<language> with the
# reference's feature flags, then every template compared with the reference, byte for byte.
synth() {
  local language="$1" app="$2" REFERENCE="$3" dir="$work/$1"
  mkdir -p "$dir"
  node -e '
    const fs = require("fs");
    const [reference, app, out] = process.argv.slice(1);
    const { context } = JSON.parse(fs.readFileSync(reference, "utf8"));
    fs.writeFileSync(out, JSON.stringify({ app, context }, null, 2) + "\n");
  ' "$REFERENCE/cdk.json" "$app" "$dir/cdk.json"
  (cd "$dir" && "${CDK[@]}" synth --quiet --output cdk.out > synth.log 2>&1) || { cat "$dir/synth.log" >&2; fail "cdk synth ($language)"; }
  local expected actual
  expected="$(cd "$REFERENCE" && ls *.template.json)"
  actual="$(cd "$dir/cdk.out" && ls *.template.json)"
  [ "$expected" = "$actual" ] || fail "$language synthesized [$(echo $actual)], the TypeScript app [$(echo $expected)]"
  for template in $expected; do
    cmp -s "$REFERENCE/$template" "$dir/cdk.out/$template" || {
      diff "$REFERENCE/$template" "$dir/cdk.out/$template" | head -40 >&2
      fail "$language: $template differs from the TypeScript app's"
    }
    step "$language: $template byte-identical to the TypeScript app's ($(wc -c < "$dir/cdk.out/$template") bytes)"
  done
}

for language in "${LANGUAGES[@]}"; do
  case "$language" in
    python)
      shopt -s nullglob
      wheels=(dist/python/*.whl)
      [ ${#wheels[@]} -eq 1 ] || fail "expected one wheel in dist/python, found ${#wheels[@]}: run 'npx projen package:python' first"
      step "python: a venv with $(basename "${wheels[0]}") and test/consumer/python/requirements.txt (aws-cdk-lib==$AWS_CDK_LIB_POLYGLOT)"
      grep -qx "aws-cdk-lib==$AWS_CDK_LIB_POLYGLOT" test/consumer/python/requirements.txt || fail "python/requirements.txt does not pin aws-cdk-lib==$AWS_CDK_LIB_POLYGLOT"
      python3 -m venv "$work/venv"
      "$work/venv/bin/pip" install --quiet --disable-pip-version-check -r test/consumer/python/requirements.txt "${wheels[0]}" > "$work/pip.log" 2>&1 || { cat "$work/pip.log" >&2; fail "pip install"; }
      "$work/venv/bin/pip" check > "$work/pip-check.log" 2>&1 || { cat "$work/pip-check.log" >&2; fail "pip check"; }
      ref="$(reference "$AWS_CDK_LIB_POLYGLOT")"
      synth python "$work/venv/bin/python $ROOT/test/consumer/python/app.py" "$ref"
      # The synth-time readiness aspect (a TypeScript IAspect) applied from Python.
      "$work/venv/bin/python" "$ROOT/test/consumer/python/readiness_aspect.py" > "$work/aspect.log" 2>&1 || { cat "$work/aspect.log" >&2; fail "python: the readiness aspect (test/consumer/python/readiness_aspect.py)"; }
      sed 's/^/languages: python: /' "$work/aspect.log"
      ;;
    go)
      [ -f dist/go/cdkimdsaccountdefaults/go.mod ] || fail "no module in dist/go: run 'npx projen package:go' first"
      step "go: building test/consumer/go (github.com/aws/aws-cdk-go/awscdk/v2 v$AWS_CDK_LIB_POLYGLOT, the module in dist/go)"
      grep -q "github.com/aws/aws-cdk-go/awscdk/v2 v$AWS_CDK_LIB_POLYGLOT\$" test/consumer/go/go.mod || fail "go/go.mod does not require aws-cdk-go v$AWS_CDK_LIB_POLYGLOT"
      (cd test/consumer/go && go build -mod=readonly -o "$work/imds-consumer-go" .) || fail "go build (go.mod and go.sum are committed: run 'go mod tidy' in test/consumer/go after a change)"
      ref="$(reference "$AWS_CDK_LIB_POLYGLOT")"
      synth go "$work/imds-consumer-go" "$ref"
      ;;
    java)
      # The library as Maven users get it: io.github.cdk-imds-account-defaults:cdk-imds-account-defaults
      # at package.json's version, from the Maven repository package:java wrote (dist/java).
      version="$(node -p 'require("./package.json").version')"
      artifact="io/github/cdk-imds-account-defaults/cdk-imds-account-defaults/$version/cdk-imds-account-defaults-$version.jar"
      [ -f "dist/java/$artifact" ] || fail "no dist/java/$artifact: run 'npx projen package:java' first"
      pom=test/consumer/java/pom.xml
      grep -q "<cdk.version>$AWS_CDK_LIB_JAVA</cdk.version>" "$pom" || fail "java/pom.xml does not pin aws-cdk-lib $AWS_CDK_LIB_JAVA (cdk.version)"
      # Maven keeps what it resolved from dist/java in the local repository, and would go on using
      # an older build of the same version: drop that copy first, and check the jar it used below.
      m2="${MAVEN_LOCAL_REPOSITORY:-$HOME/.m2/repository}"
      rm -rf "$m2/io/github/cdk-imds-account-defaults/cdk-imds-account-defaults/$version"
      mvn_args=(-B -q -f "$ROOT/$pom" "-Dimds.version=$version" "-Dimds.repository=$ROOT/dist/java" "-Dimds.buildDirectory=$work/java-target")
      [ -z "${MAVEN_LOCAL_REPOSITORY:-}" ] || mvn_args+=("-Dmaven.repo.local=$MAVEN_LOCAL_REPOSITORY")
      step "java: mvn compile test/consumer/java (software.amazon.awscdk:aws-cdk-lib $AWS_CDK_LIB_JAVA from Maven Central, the library $version from dist/java)"
      mvn "${mvn_args[@]}" compile > "$work/mvn.log" 2>&1 || { cat "$work/mvn.log" >&2; fail "mvn compile (test/consumer/java)"; }
      cmp -s "$m2/$artifact" "dist/java/$artifact" || fail "Maven compiled against $m2/$artifact, not the jar in dist/java"
      ref="$(reference "$AWS_CDK_LIB_JAVA")"
      synth java "mvn ${mvn_args[*]} exec:java" "$ref"
      ;;
    *) fail "unknown language $language (python, go, java)" ;;
  esac
done
step "OK: ${LANGUAGES[*]}"
