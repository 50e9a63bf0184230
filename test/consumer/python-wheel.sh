#!/usr/bin/env bash
# Builds the Python package (wheel and sdist) without PyPI, and checks what it carries.
#
# `npx projen package:python` (jsii-pacmak's own build) installs pinned setuptools,
# build and twine from PyPI, which this machine cannot reach. This does the same two
# steps with what pip can install here: jsii-pacmak generates the sources
# (--code-only), then `python -m build` builds them with the setuptools found
# (--no-isolation; the pin in the generated pyproject.toml is skipped).
#
# Checked: the wheel's metadata (name, requirements) and that the jsii tarball
# inside it holds the handler bundle. Not checked: importing the module, which
# needs the jsii and aws-cdk-lib Python packages from PyPI.
#
# Needs: `npx projen compile` first (.jsii); python3 with venv; pip able to install
# `build` and `setuptools` (a local index or PyPI).
set -euo pipefail
cd "$(dirname "$0")/../.."

[ -f .jsii ] || { echo "python-wheel: .jsii is missing: run 'npx projen compile' first" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "python-wheel: generating the sources (jsii-pacmak --code-only)"
npx jsii-pacmak --code-only --target python --outdir "$work/gen" > "$work/pacmak.log" 2>&1 || { cat "$work/pacmak.log" >&2; exit 1; }

echo "python-wheel: installing build and setuptools into a venv"
python3 -m venv "$work/venv"
# --retries 0: an unreachable PyPI is given up at once, the local index answers.
"$work/venv/bin/pip" install --quiet --disable-pip-version-check --retries 0 --timeout 10 build wheel 'setuptools>=75' > "$work/pip.log" 2>&1 || { cat "$work/pip.log" >&2; exit 1; }

rm -rf dist/python
mkdir -p dist/python
"$work/venv/bin/python" -m build --no-isolation --skip-dependency-check --outdir dist/python "$work/gen/python" > "$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; exit 1; }

wheel="$(ls dist/python/*.whl)"
echo "python-wheel: built $(ls dist/python | tr '\n' ' ')"

"$work/venv/bin/python" - "$wheel" <<'PY'
import io, sys, tarfile, zipfile

wheel = zipfile.ZipFile(sys.argv[1])
names = wheel.namelist()
meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
metadata = wheel.read(meta).decode()
problems = []
if "Name: cdk-imds-account-defaults" not in metadata:
    problems.append("METADATA does not name cdk-imds-account-defaults")
for req in ("aws-cdk-lib", "constructs", "jsii"):
    if f"Requires-Dist: {req}" not in metadata:
        problems.append(f"METADATA does not require {req}")
tgz = [n for n in names if n.startswith("cdk_imds_account_defaults/_jsii/") and n.endswith(".jsii.tgz")]
if len(tgz) != 1:
    problems.append(f"expected one jsii tarball in the wheel, found {tgz}")
else:
    members = tarfile.open(fileobj=io.BytesIO(wheel.read(tgz[0]))).getnames()
    if "package/assets/lambda/index/index.js" not in members:
        problems.append("the jsii tarball lacks package/assets/lambda/index/index.js (the handler bundle)")
    stray = [m for m in members if m.startswith(("package/lambda/", "package/test/", "package/src/"))]
    if stray:
        problems.append(f"the jsii tarball carries sources or tests: {stray[:5]}")
if problems:
    sys.exit("python-wheel: FAILED\n  " + "\n  ".join(problems))
print(f"python-wheel: OK: {len(names)} files; module cdk_imds_account_defaults; {tgz[0].split('/')[-1]} holds the handler bundle")
PY
