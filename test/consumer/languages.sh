#!/usr/bin/env bash
# The Python and Go consumer apps (test/consumer/python, test/consumer/go): the stacks
# of the TypeScript consumer app, written as a user of each language writes them, with
# the package just built (dist/python's wheel, dist/go's module) and aws-cdk-lib from
# the language's own registry at $AWS_CDK_LIB_POLYGLOT (versions.sh; Python pins in
# python/requirements.txt, Go pins in go/go.mod and go/go.sum). Each runs through
# `cdk synth` (the npm CLI, as for TypeScript) with the same feature flags, and every
# template must be byte-identical to the TypeScript app's with the same aws-cdk-lib
# (dist/consumer/typescript, written by run.sh).
#
# Usage: languages.sh [python] [go]   (both when none is given)
# Needs: `npx projen package:python`, `npx projen package:go`, `npx projen test:consumer`;
# python3 with venv and pip (PyPI or a warm pip cache), go (the Go proxy or a warm
# module cache), the npm registry (or a warm npm cache) for the CDK CLI.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
source test/consumer/versions.sh

started=$SECONDS
step() { echo "languages: [$((SECONDS - started))s] $*"; }
fail() { echo "languages: FAILED: $*" >&2; exit 1; }

LANGUAGES=("$@")
[ ${#LANGUAGES[@]} -gt 0 ] || LANGUAGES=(python go)

REFERENCE="$ROOT/dist/consumer/typescript"
[ -f "$REFERENCE/cdk.json" ] || fail "no reference templates in dist/consumer/typescript: run 'npx projen test:consumer' first"
[ "$(cat "$REFERENCE/aws-cdk-lib.version")" = "$AWS_CDK_LIB_POLYGLOT" ] || fail "the reference was synthesized with aws-cdk-lib $(cat "$REFERENCE/aws-cdk-lib.version"), not $AWS_CDK_LIB_POLYGLOT: run 'npx projen test:consumer' again"

work="$(mktemp -d "${TMPDIR:-/tmp}/imds-languages.XXXXXX")"
[ "${KEEP:-}" = 1 ] && echo "languages: keeping $work" || trap 'rm -rf "$work"' EXIT
unset NODE_PATH NODE_OPTIONS
export CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=true
# The jsii runtime of each language runs the library in this Node.js; its end-of-life notice is not ours.
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1

step "installing the CDK CLI aws-cdk@$AWS_CDK_CLI"
npm install --prefix "$work/cli" --prefer-offline --no-audit --no-fund --loglevel=error "aws-cdk@$AWS_CDK_CLI" > "$work/cli.log" 2>&1 || { cat "$work/cli.log" >&2; fail "npm install aws-cdk@$AWS_CDK_CLI"; }
CDK=("$work/cli/node_modules/.bin/cdk" --no-notices --no-version-reporting)

# synth <language> <app command>: cdk synth in $work/<language> with the reference's
# feature flags, then every template compared with the reference, byte for byte.
synth() {
  local language="$1" app="$2" dir="$work/$1"
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
      synth python "$work/venv/bin/python $ROOT/test/consumer/python/app.py"
      ;;
    go)
      [ -f dist/go/cdkimdsaccountdefaults/go.mod ] || fail "no module in dist/go: run 'npx projen package:go' first"
      step "go: building test/consumer/go (github.com/aws/aws-cdk-go/awscdk/v2 v$AWS_CDK_LIB_POLYGLOT, the module in dist/go)"
      grep -q "github.com/aws/aws-cdk-go/awscdk/v2 v$AWS_CDK_LIB_POLYGLOT\$" test/consumer/go/go.mod || fail "go/go.mod does not require aws-cdk-go v$AWS_CDK_LIB_POLYGLOT"
      (cd test/consumer/go && go build -mod=readonly -o "$work/imds-consumer-go" .) || fail "go build (go.mod and go.sum are committed: run 'go mod tidy' in test/consumer/go after a change)"
      synth go "$work/imds-consumer-go"
      ;;
    *) fail "unknown language $language (python, go)" ;;
  esac
done
step "OK: ${LANGUAGES[*]}"
