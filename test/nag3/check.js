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
  /** A concrete account and Region (formatArn resolves ARNs there; the finding ids change with them). */
  const CONCRETE_ENV = { account: '111111111111', region: 'us-east-1' };
  const STACK_SET_PROPS = {
    httpTokens: lib.ImdsHttpTokens.REQUIRED,
    httpTokensEnforced: lib.ImdsHttpTokensEnforced.ENABLED,
    target: lib.ImdsStackSetTarget.fromOrganizationalUnits({ organizationalUnitIds: ['ou-abcd-12345678'], regions: ['eu-west-1', 'us-east-1'] }),
    permissionsBoundary: lib.ImdsStackSetPermissionsBoundary.fromPolicyName('boundaries/ImdsBoundary'),
    rolePath: '/platform/',
    driftGuard: lib.DriftGuardMode.REAPPLY,
    readinessCheck: lib.ReadinessCheckMode.ENFORCE_AND_REPORT,
    instanceUpgrade: { mode: lib.InstanceUpgradeMode.UPGRADE },
  };

  function everyConstructApp(env) {
    const app = new App({ outdir: fs.mkdtempSync(path.join(tmpDir, 'app-')) });
    const stack = (id) => new Stack(app, id, { env });
    const defaultsStack = stack('NagImdsAccountDefaults');
    new lib.ImdsAccountDefaults(defaultsStack, 'Defaults', {
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
      logGroupEncryptionKey: new cdk.aws_kms.Key(defaultsStack, 'LogKey', { enableKeyRotation: true }),
      checkEnforcementReadiness: true,
    });
    const stackSet = new lib.ImdsAccountDefaultsStackSet(stack('NagImdsAccountDefaultsStackSet'), 'StackSet', STACK_SET_PROPS);
    const upgradeStack = stack('NagImdsInstanceUpgrade');
    new lib.ImdsInstanceUpgrade(upgradeStack, 'Upgrade', {
      mode: lib.InstanceUpgradeMode.UPGRADE,
      upgradeWithoutMetrics: true,
      logRetention: cdk.aws_logs.RetentionDays.THREE_MONTHS,
      permissionsBoundary: lib.ImdsPermissionsBoundary.fromPolicyName('ImdsBoundary'),
      rolePath: '/platform/',
      logGroupEncryptionKey: new cdk.aws_kms.Key(upgradeStack, 'LogKey', { enableKeyRotation: true }),
    });
    const reportStack = stack('NagImdsReadinessReport');
    new lib.ImdsReadinessReport(reportStack, 'Report', {
      interval: cdk.Duration.hours(12),
      scheduledRuns: true,
      logRetention: cdk.aws_logs.RetentionDays.THREE_MONTHS,
      permissionsBoundary: lib.ImdsPermissionsBoundary.fromPolicyName('ImdsBoundary'),
      rolePath: '/platform/',
      logGroupEncryptionKey: new cdk.aws_kms.Key(reportStack, 'LogKey', { enableKeyRotation: true }),
    });
    // The dry run rolled out alone (no settings): the report and the instance upgrade in every member.
    const dryRun = new lib.ImdsAccountDefaultsStackSet(stack('NagImdsDryRunStackSet'), 'DryRun', {
      target: STACK_SET_PROPS.target,
      readinessReport: { interval: cdk.Duration.hours(12) },
      instanceUpgrade: { mode: lib.InstanceUpgradeMode.REPORT_ONLY },
      rolePath: '/platform/',
    });
    // The management account's own resources, as the StackSet adds them (another account: one
    // ImdsAccountDefaults per account and Region).
    stackSet.addManagementAccount(new Stack(app, 'NagImdsManagementAccount', { env: env && { ...env, account: '222222222222' } }));
    new lib.ImdsServiceControlPolicy(stack('NagImdsServiceControlPolicy'), 'Guardrails', {
      rolePath: '/platform/',
      targetIds: ['ou-abcd-12345678'],
      breakGlassPrincipalArns: ['arn:aws:iam::*:role/BreakGlass'],
      httpTokens: lib.ImdsHttpTokens.REQUIRED,
      denyImdsv1Credentials: true,
    });
    new lib.ImdsDeclarativePolicy(stack('NagImdsDeclarativePolicy'), 'Policy', {
      httpTokens: lib.ImdsHttpTokens.REQUIRED,
      httpPutResponseHopLimit: 2,
      targetIds: ['r-abcd'],
      exceptionMessage: 'IMDSv2 is required by the platform team',
    });
    // The organization's findings hub (security account): CloudWatch Logs' own encryption for its
    // log group, so its acknowledgements are checked too.
    new lib.ImdsFindingsHub(stack('NagImdsFindingsHub'), 'Hub', {
      organizationId: 'o-a1b2c3d4e5',
      rolePath: '/platform/',
      logRetention: cdk.aws_logs.RetentionDays.THREE_MONTHS,
    });
    return { app, stackSet, dryRun };
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

  /**
   * What `cdk synth --strict` sees: every warning (and error) annotation of the synthesized
   * assembly, as `<path> <level> <text>`; aws-cdk-lib 2.27x warns where 2.168 did not.
   */
  function annotationsOf(assembly) {
    const out = [];
    for (const artifact of assembly.artifacts) {
      for (const m of artifact.messages ?? []) {
        if (m.level === 'warning' || m.level === 'error') {
          out.push(`${m.id} ${m.level} ${String(m.entry && m.entry.data).split('\n')[0]}`);
        }
      }
    }
    return out;
  }

  /**
   * The StackSet's embedded template as the README shows a user checks it: read back with
   * CfnInclude into a stack of the user's (with `env`), with or without the library's
   * one call, `ImdsNagAcknowledgements.ofIncludedTemplate`; the findings of every pack.
   */
  function includedTemplate(stackSet, env, acknowledge) {
    const file = path.join(fs.mkdtempSync(path.join(tmpDir, 'include-')), 'template.json');
    fs.writeFileSync(file, stackSet.templateBody);
    const userApp = new App({ outdir: fs.mkdtempSync(path.join(tmpDir, 'user-')) });
    const include = new cdk.cloudformation_include.CfnInclude(new Stack(userApp, 'Embedded', { env }), 'Template', { templateFile: file });
    const acknowledgements = acknowledge ? lib.ImdsNagAcknowledgements.ofIncludedTemplate(include) : 0;
    const findings = findingsOf(userApp);
    Validations.of(userApp).addPlugins(...PACKS.map((Pack) => new Pack(userApp)));
    let synthesized = true;
    try {
      userApp.synth();
    } catch {
      synthesized = false;
    }
    return {
      acknowledgements,
      unacknowledged: findings.filter((f) => !f.acknowledged).length,
      acknowledged: findings.filter((f) => f.acknowledged).length,
      unacknowledgedFindings: acknowledge ? findings.filter((f) => !f.acknowledged) : [],
      synthesized,
    };
  }

  const { app, stackSet, dryRun } = everyConstructApp();
  const appAssembly = app.synth();
  const { app: concreteApp } = everyConstructApp(CONCRETE_ENV);
  const concreteAssembly = concreteApp.synth();

  // The StackSet's embedded tree, rebuilt with the StackSet's own inputs; its template must be the TemplateBody.
  const outdir = fs.mkdtempSync(path.join(tmpDir, 'embedded-'));
  // embeddedTemplateOptions (private): what the StackSet synthesized it from (the members' props, the
  // instance upgrade options), the form of the code it chose included.
  const embedded = buildEmbeddedStack(stackSet.embeddedTemplateOptions, outdir);
  const embeddedBody = JSON.stringify(embedded.stage.synth().getStackArtifact(embedded.stack.artifactId).template);

  // The user's path: the packs as validation plugins; synth throws if any reports a violation.
  const plugins = (env) => {
    const { app: userApp } = everyConstructApp(env);
    Validations.of(userApp).addPlugins(...PACKS.map((Pack) => new Pack(userApp)));
    try {
      userApp.synth();
      return { synthesized: true };
    } catch (err) {
      return { synthesized: false, error: String(err && err.message).slice(0, 4000) };
    }
  };

  return {
    resolved,
    packs: PACKS.map((Pack) => new Pack().name),
    app: { findings: findingsOf(app), acknowledgements: acknowledgementsOf(app) },
    concrete: { findings: findingsOf(concreteApp), acknowledgements: acknowledgementsOf(concreteApp) },
    strict: { agnostic: annotationsOf(appAssembly), concrete: annotationsOf(concreteAssembly) },
    included: {
      without: includedTemplate(stackSet, undefined, false),
      agnostic: includedTemplate(stackSet, undefined, true),
      concrete: includedTemplate(stackSet, CONCRETE_ENV, true),
      dryRunWithout: includedTemplate(dryRun, undefined, false),
      dryRun: includedTemplate(dryRun, CONCRETE_ENV, true),
    },
    embedded: {
      sameAsTemplateBody: embeddedBody === stackSet.templateBody,
      findings: findingsOf(embedded.stage),
      acknowledgements: acknowledgementsOf(embedded.stage),
    },
    plugins: plugins(),
    pluginsConcrete: plugins(CONCRETE_ENV),
  };
}
