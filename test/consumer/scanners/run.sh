#!/usr/bin/env bash
# checkov and cfn-lint, as security teams run them on cdk.out, over every template of a
# cloud assembly, with each StackSet's embedded TemplateBody extracted to a file of its own
# (neither scanner looks inside a TemplateBody string). Fails on any finding the library
# does not accept:
# - checkov: any failed check. The checks the library accepts are skipped by the templates
#   themselves (`Metadata.checkov.skip`, each with its reason); a skip of another check
#   fails too (ACCEPTED_CHECKOV below, the README's table of accepted findings).
# - cfn-lint: any error or warning except ACCEPTED_CFN_LINT: W3005, the `DependsOn` that
#   aws-cdk-lib's Lambda Function adds on its role (already implied by a reference).
#
# Usage: test/consumer/scanners/run.sh <cdk.out directory>
# The scanners come from PyPI, pinned in requirements.txt, installed into a virtual
# environment outside the repository ($SCANNERS_VENV; by default under $TMPDIR, named
# after the hash of requirements.txt, so a second run reuses it).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ASSEMBLY="$(cd "${1:?usage: $0 <cdk.out directory>}" && pwd)"
ACCEPTED_CHECKOV="CKV_AWS_115 CKV_AWS_116 CKV_AWS_117 CKV_AWS_158 CKV_AWS_173"
ACCEPTED_CFN_LINT="W3005"

say() { echo "scanners: $*"; }
fail() { echo "scanners: FAILED: $*" >&2; exit 1; }

hash="$(sha256sum "$HERE/requirements.txt" | cut -c1-12)"
VENV="${SCANNERS_VENV:-${TMPDIR:-/tmp}/cdk-imds-scanners-$hash}"
if [ ! -x "$VENV/bin/checkov" ] || [ ! -x "$VENV/bin/cfn-lint" ]; then
  say "installing $(grep -vE '^\s*(#|$)' "$HERE/requirements.txt" | tr '\n' ' ')into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt" > "$VENV.log" 2>&1 || { cat "$VENV.log" >&2; fail "pip install -r requirements.txt"; }
fi
say "checkov $("$VENV/bin/checkov" --version), $("$VENV/bin/cfn-lint" --version)"

# The templates: the stacks', and each StackSet's embedded template.
WORK="$(mktemp -d "${TMPDIR:-/tmp}/imds-scan.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cp "$ASSEMBLY"/*.template.json "$WORK/"
node -e '
  const fs = require("fs");
  const path = require("path");
  const [dir] = process.argv.slice(1);
  let n = 0;
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".template.json"))) {
    const template = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8"));
    for (const [id, r] of Object.entries(template.Resources ?? {})) {
      if (r.Type !== "AWS::CloudFormation::StackSet") continue;
      const body = r.Properties.TemplateBody;
      if (typeof body !== "string") throw new Error(`${file} ${id}: TemplateBody is not a plain string`);
      fs.writeFileSync(path.join(dir, `${file.replace(/\.template\.json$/, "")}.${id}.embedded.template.json`), body);
      n++;
    }
  }
  if (n === 0) throw new Error("no StackSet found: the embedded template would go unchecked");
' "$WORK" || fail "extracting the StackSets' TemplateBody"
templates=("$WORK"/*.template.json)
say "${#templates[@]} templates ($(ls "$WORK" | grep -c '\.embedded\.template\.json$') embedded)"

# cfn-lint: any error, warning or informational message except the accepted ones.
if ! "$VENV/bin/cfn-lint" --format parseable --ignore-checks $ACCEPTED_CFN_LINT -- "${templates[@]}" > "$WORK/cfn-lint.txt" 2>&1; then
  sed "s|$WORK/||" "$WORK/cfn-lint.txt" >&2
  fail "cfn-lint reported findings"
fi
say "cfn-lint: nothing reported (accepted: $ACCEPTED_CFN_LINT)"

# checkov: no failed check; the skipped ones are exactly the accepted ones, each with a comment.
# --skip-download: no call to the vendor's API (checkov goes on without it anyway).
"$VENV/bin/checkov" --directory "$WORK" --framework cloudformation --skip-download --compact --output json > "$WORK/checkov.json" 2> "$WORK/checkov.err" || true
node -e '
  const fs = require("fs");
  const [file, accepted] = process.argv.slice(1);
  let reports;
  try { reports = JSON.parse(fs.readFileSync(file, "utf8")); } catch (e) { console.error(`checkov wrote no JSON report: ${e.message}`); process.exit(1); }
  reports = Array.isArray(reports) ? reports : [reports];
  const acceptedIds = new Set(accepted.split(" "));
  const problems = [];
  let passed = 0, skipped = 0, files = new Set();
  for (const report of reports) {
    if (report.check_type !== "cloudformation") continue;
    const r = report.results ?? {};
    passed += (r.passed_checks ?? []).length;
    for (const c of r.passed_checks ?? []) files.add(c.file_path);
    for (const c of r.failed_checks ?? []) problems.push(`failed ${c.check_id} (${c.check_name}) on ${c.resource} in ${c.file_path}`);
    for (const c of r.skipped_checks ?? []) {
      skipped++;
      if (!acceptedIds.has(c.check_id)) problems.push(`skipped ${c.check_id}, which is not an accepted finding, on ${c.resource} in ${c.file_path}`);
      if (((c.check_result ?? {}).suppress_comment ?? "").length < 10) problems.push(`skipped ${c.check_id} without a reason on ${c.resource} in ${c.file_path}`);
    }
    for (const e of r.parsing_errors ?? []) problems.push(`could not parse ${e}`);
  }
  if (passed === 0) problems.push("checkov checked nothing");
  if (problems.length) { console.error(problems.join("\n")); process.exit(1); }
  console.log(`scanners: checkov: no failed check (${passed} passed, ${skipped} skipped by the templates with their reasons: ${accepted})`);
' "$WORK/checkov.json" "$ACCEPTED_CHECKOV" || { tail -20 "$WORK/checkov.err" >&2; fail "checkov reported findings"; }
