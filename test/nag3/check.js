#!/usr/bin/env node
/**
 * cdk-nag 3 over the compiled library (lib/), run under the aws-cdk-lib that
 * cdk-nag 3 needs (this folder's node_modules, from its lockfile), as a user on
 * the newest releases runs it. test/nag3.test.ts runs this script and checks
 * what it prints (one JSON document on stdout).
 *
 * The library is installed as a user gets it: lib/, assets/ and package.json
 * are copied to <tmp>/node_modules/cdk-imds-account-defaults, beside links to
 * this folder's aws-cdk-lib, constructs and cdk-nag, so the library's
 * `require('aws-cdk-lib')` resolves to this folder's copy and not to the
 * project's (older) one; `resolved` reports what it did resolve to.
 *
 * Checked trees:
 * - `app`: every construct of the library, each in a stack of its own, with
 *   every option that adds resources (as test/nag.test.ts does for cdk-nag 2);
 * - `embedded`: the tree behind the StackSet's TemplateBody
 *   (lib/private/embedded-template.js): cdk-nag reads neither major inside a
 *   TemplateBody, and cdk-nag 3 reads acknowledgements from the construct tree
 *   only, so this is where the library's acknowledgements for it live.
 * Each pack runs through `validateScope` with its acknowledgement lookup
 * observed, so the output lists every finding, acknowledged or not, and every
 * acknowledgement recorded in the tree. `plugins` is the user's own path:
 * `Validations.of(app).addPlugins(...)` and `app.synth()`.
 */
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { createRequire } = require('module');

const ROOT = path.join(__dirname, '..', '..');
const PACKAGE = 'cdk-imds-account-defaults';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nag3-'));
try {
  const modules = path.join(tmp, 'node_modules');
  const pkgDir = path.join(modules, PACKAGE);
  fs.mkdirSync(pkgDir, { recursive: true });
  for (const entry of ['lib', 'assets', 'package.json']) {
    fs.cpSync(path.join(ROOT, entry), path.join(pkgDir, entry), { recursive: true });
  }
  for (const dep of ['aws-cdk-lib', 'constructs', 'cdk-nag']) {
    fs.symlinkSync(path.join(__dirname, 'node_modules', dep), path.join(modules, dep), 'dir');
  }
  process.stdout.write(JSON.stringify(run(pkgDir, tmp), null, 1));
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

function run(pkgDir, tmpDir) {
  const cdk = require('aws-cdk-lib');
  const { CfnResource, Stack, App, Validations, RemovalPolicy } = cdk;
  const nag = require('cdk-nag');
  const lib = require(pkgDir);
  const { buildEmbeddedStack } = require(path.join(pkgDir, 'lib', 'private', 'embedded-template.js'));

  const libRequire = createRequire(path.join(pkgDir, 'lib', 'index.js'));
  const versionOf = (req, name) => JSON.parse(fs.readFileSync(req.resolve(`${name}/package.json`), 'utf8')).version;
  const resolved = {
    libraryAwsCdkLib: versionOf(libRequire, 'aws-cdk-lib'),
    libraryAwsCdkLibPath: fs.realpathSync(libRequire.resolve('aws-cdk-lib')),
    checkAwsCdkLibPath: fs.realpathSync(require.resolve('aws-cdk-lib')),
    cdkNag: versionOf(require, 'cdk-nag'),
    hasValidations: typeof Validations === 'function',
  };

  const PACKS = [
    nag.AwsSolutionsChecks,
    nag.HIPAASecurityChecks,
    nag.NIST80053R4Checks,
    nag.NIST80053R5Checks,
    nag.PCIDSS321Checks,
    nag.ServerlessChecks,
  ];
  const STACK_SET_PROPS = {
    httpTokens: lib.ImdsHttpTokens.REQUIRED,
    httpTokensEnforced: lib.ImdsHttpTokensEnforced.ENABLED,
    target: lib.ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: ['eu-west-1', 'us-east-1'] }),
    permissionsBoundary: lib.ImdsStackSetPermissionsBoundary.fromPolicyName('boundaries/ImdsBoundary'),
    rolePath: '/platform/',
    driftGuard: lib.DriftGuardMode.REAPPLY,
    instanceUpgrade: { mode: lib.InstanceUpgradeMode.UPGRADE },
  };

  function everyConstructApp() {
    const app = new App({ outdir: fs.mkdtempSync(path.join(tmpDir, 'app-')) });
    new lib.ImdsAccountDefaults(new Stack(app, 'NagImdsAccountDefaults'), 'Defaults', {
      httpTokens: lib.ImdsHttpTokens.REQUIRED,
      httpTokensEnforced: lib.ImdsHttpTokensEnforced.ENABLED,
      httpPutResponseHopLimit: 2,
      httpEndpoint: lib.ImdsHttpEndpoint.ENABLED,
      instanceMetadataTags: lib.ImdsInstanceMetadataTags.DISABLED,
      removalPolicy: RemovalPolicy.RETAIN,
      skipIfManagedByDeclarativePolicy: true,
      logRetention: cdk.aws_logs.RetentionDays.THREE_MONTHS,
      permissionsBoundary: lib.ImdsPermissionsBoundary.fromPolicyName('ImdsBoundary'),
      rolePath: '/platform/',
      driftGuard: lib.DriftGuardMode.REAPPLY,
    });
    const stackSet = new lib.ImdsAccountDefaultsStackSet(new Stack(app, 'NagImdsAccountDefaultsStackSet'), 'StackSet', STACK_SET_PROPS);
    new lib.ImdsInstanceUpgrade(new Stack(app, 'NagImdsInstanceUpgrade'), 'Upgrade', {
      mode: lib.InstanceUpgradeMode.UPGRADE,
      upgradeWithoutMetrics: true,
      logRetention: cdk.aws_logs.RetentionDays.THREE_MONTHS,
      permissionsBoundary: lib.ImdsPermissionsBoundary.fromPolicyName('ImdsBoundary'),
      rolePath: '/platform/',
    });
    new lib.ImdsDeclarativePolicy(new Stack(app, 'NagImdsDeclarativePolicy'), 'Policy', {
      httpTokens: lib.ImdsHttpTokens.REQUIRED,
      httpPutResponseHopLimit: 2,
      targetIds: ['r-abcd'],
      exceptionMessage: 'IMDSv2 is required by the platform team',
    });
    return { app, stackSet };
  }

  /** Every finding of every pack over `root`, with whether it was acknowledged. */
  function findingsOf(root) {
    const findings = [];
    for (const Pack of PACKS) {
      const pack = new Pack();
      const isAcknowledged = pack.isAcknowledged.bind(pack);
      pack.isAcknowledged = (node, ruleId) => {
        const acknowledged = isAcknowledged(node, ruleId);
        findings.push({ pack: pack.name, ruleId, path: node.node.path, acknowledged });
        return acknowledged;
      };
      const report = pack.validateScope(root);
      for (const v of report.violations) {
        for (const r of v.violatingResources) {
          if (!findings.some((f) => f.ruleId === v.ruleName && f.path === r.constructPath)) {
            findings.push({ pack: pack.name, ruleId: v.ruleName, path: r.constructPath, acknowledged: false, description: v.description });
          }
        }
      }
    }
    return findings;
  }

  /** Every acknowledgement recorded in the tree (Validations.of(...).acknowledge). */
  function acknowledgementsOf(root) {
    const out = [];
    for (const c of root.node.findAll()) {
      for (const entry of c.node.metadata) {
        if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY && entry.data) {
          for (const [id, reason] of Object.entries(entry.data)) {
            out.push({ path: c.node.path, id: id.replace(/^annotation::/i, ''), reason, l1: CfnResource.isCfnResource(c) });
          }
        }
      }
    }
    return out;
  }

  const { app, stackSet } = everyConstructApp();
  app.synth();

  // The StackSet's embedded tree, rebuilt with the StackSet's own inputs; its template must be the TemplateBody.
  const outdir = fs.mkdtempSync(path.join(tmpDir, 'embedded-'));
  // embeddedTemplateOptions (private): what the StackSet synthesized it from (the members' props, the
  // instance upgrade options), the form of the code it chose included.
  const embedded = buildEmbeddedStack(stackSet.embeddedTemplateOptions, outdir);
  const embeddedBody = JSON.stringify(embedded.stage.synth().getStackArtifact(embedded.stack.artifactId).template);

  // The user's path: the packs as validation plugins; synth throws if any reports a violation.
  const plugins = (() => {
    const { app: userApp } = everyConstructApp();
    Validations.of(userApp).addPlugins(...PACKS.map((Pack) => new Pack(userApp)));
    try {
      userApp.synth();
      return { synthesized: true };
    } catch (err) {
      return { synthesized: false, error: String(err && err.message).slice(0, 4000) };
    }
  })();

  return {
    resolved,
    packs: PACKS.map((Pack) => new Pack().name),
    app: { findings: findingsOf(app), acknowledgements: acknowledgementsOf(app) },
    embedded: {
      sameAsTemplateBody: embeddedBody === stackSet.templateBody,
      findings: findingsOf(embedded.stage),
      acknowledgements: acknowledgementsOf(embedded.stage),
    },
    plugins,
  };
}
