/**
 * Benchmark: ImdsAccountDefaults against the two ways users write the same
 * thing today, side by side, in one run.
 *
 *   npx projen bench                 # 15 synth runs per variant
 *   npx projen bench -- --runs 15
 *   npx projen bench -- --baseline-ref 221f819
 *
 * - AwsCustomResource (aws-cdk-lib/custom-resources): an SDK call on create,
 *   update and delete, with the policy generated from the calls.
 * - cr.Provider + lambda.Function: a hand-written handler (bench/provider-handler)
 *   behind the provider framework.
 *
 * Figures, for each variant alone in a stack:
 * - synth time: median of --runs synths (after three warm-up rounds, variants
 *   interleaved), as a ratio against AwsCustomResource;
 * - the template as CloudFormation gets it (minified JSON) in bytes;
 * - Lambda functions; file assets and their bytes;
 * - IAM statements, and those with a wildcard (`*` in a resource or an action);
 * - cdk-nag findings left unsuppressed (AwsSolutions and NIST 800-53 rev 5,
 *   as in test/nag.test.ts);
 * - handler cold start: in a fresh Node process, the time to `require` each
 *   function's handler module and the AWS SDK clients its first event needs
 *   (the Lambda runtime ships them; here they come from node_modules), summed
 *   over the functions one event passes through. Median of 9 processes. Node's
 *   own start is left out; Lambda's init (download, unzip, runtime start) is
 *   not modelled.
 *
 * Template size before and after (bench/template-sizes.ts): the template an
 * ImdsAccountDefaultsStackSet embeds (`templateBody`) and a stack with
 * ImdsAccountDefaults alone, both with every option, for the current tree and for
 * a previous release, with the ratio after/before and the budgets (a stack, whose
 * functions carry their plain code: under CloudFormation's 51,200-byte TemplateBody
 * limit; a StackSet's embedded template: 40,960 B, 80 % of it, with one function, and
 * 48,640 B, 95 %, with two, test/targets.test.ts). Releases with findings as events are
 * measured with a central event bus set (`centralEventBusArn`), which every function's
 * IAM, environment and code count.
 * The previous release is
 * --baseline-ref, by default 322c6d4: the last commit before the hardening of
 * issue 15 (confirmed events, plain inline code in stacks), i.e. what users have
 * today (0979b2c is the one before the drift guard, the readiness check and
 * ImdsInstanceUpgrade; 221f819 the one before the claims). Its src/ and lambda/ come out of git (`git archive`, no network)
 * into a temporary directory; its handler is bundled there with the project's
 * esbuild and the options of the `bundle:lambda/account-defaults/index` task
 * (.projenrc.ts), to where that src/ reads it; its src/ is then loaded
 * with the project's node_modules (a symlink) in a child ts-node process.
 *
 * Then ImdsInstanceUpgrade on an emulated fleet (--fleet, 3,000 instances by
 * default; 0 skips it) beside a model of AWS's Config remediation runbook
 * (bench/fleet.ts).
 *
 * Timings are printed, never asserted: they depend on the machine.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  App,
  CustomResource,
  Duration,
  Stack,
  aws_iam as iam,
  aws_lambda as lambda,
  custom_resources as cr,
} from 'aws-cdk-lib';
import { CloudFormationStackArtifact } from 'aws-cdk-lib/cx-api';
import { fleetBench } from './fleet';
import { TemplateSizes, templateSizes } from './template-sizes';
import * as current from '../src';
import { ImdsAccountDefaults, ImdsHttpTokens, ImdsHttpTokensEnforced } from '../src';
import { runNag } from '../test/support/nag-findings';

const ROOT = path.join(__dirname, '..');

/** The same settings in every variant: IMDSv2 required and enforced, hop limit 2. */
const SETTINGS = { HttpTokens: 'required', HttpTokensEnforced: 'enabled', HttpPutResponseHopLimit: 2 };
const RESET = { HttpTokens: 'no-preference', HttpTokensEnforced: 'no-preference', HttpPutResponseHopLimit: -1 };

interface Variant {
  readonly name: string;
  readonly add: (stack: Stack) => void;
}

const VARIANTS: Variant[] = [
  {
    name: 'ImdsAccountDefaults',
    add: (stack) => new ImdsAccountDefaults(stack, 'ImdsDefaults', {
      httpTokens: ImdsHttpTokens.REQUIRED,
      httpTokensEnforced: ImdsHttpTokensEnforced.ENABLED,
      httpPutResponseHopLimit: 2,
    }),
  },
  {
    name: 'AwsCustomResource',
    add: (stack) => new cr.AwsCustomResource(stack, 'ImdsDefaults', {
      onUpdate: {
        service: 'EC2',
        action: 'ModifyInstanceMetadataDefaults',
        parameters: SETTINGS,
        physicalResourceId: cr.PhysicalResourceId.of('imds-account-defaults'),
      },
      onDelete: {
        service: 'EC2',
        action: 'ModifyInstanceMetadataDefaults',
        parameters: RESET,
      },
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: cr.AwsCustomResourcePolicy.ANY_RESOURCE }),
    }),
  },
  {
    name: 'cr.Provider + lambda.Function',
    add: (stack) => {
      const onEvent = new lambda.Function(stack, 'OnEvent', {
        runtime: lambda.Runtime.NODEJS_22_X,
        handler: 'index.handler',
        code: lambda.Code.fromAsset(path.join(__dirname, 'provider-handler')),
        timeout: Duration.minutes(1),
      });
      onEvent.addToRolePolicy(new iam.PolicyStatement({
        actions: ['ec2:ModifyInstanceMetadataDefaults'],
        resources: ['*'],
      }));
      const provider = new cr.Provider(stack, 'Provider', { onEventHandler: onEvent });
      new CustomResource(stack, 'ImdsDefaults', { serviceToken: provider.serviceToken, properties: SETTINGS });
    },
  },
];

const BASELINE = 'AwsCustomResource';

/** A stack with every option, its functions carrying plain code (test/targets.test.ts): the TemplateBody limit. */
const TEMPLATE_BUDGET_BYTES = 51_200;
/** The StackSet's embedded template with one function (test/targets.test.ts): 80 % of the TemplateBody limit. */
const EMBEDDED_BUDGET_BYTES = 40_960;
/** The StackSet's embedded template with two functions, every option of both (test/targets.test.ts): 95 % of the TemplateBody limit. */
const TWO_FUNCTIONS_EMBEDDED_BUDGET_BYTES = 48_640;

/** The handler's cold start may be at most this many times AwsCustomResource's (issue 15). */
const COLD_START_MAX_RATIO = 1.5;

/** The previous release: the last commit before the hardening of issue 15. */
const DEFAULT_BASELINE_REF = '322c6d4';

function parseArgs(): { runs: number; baselineRef: string; fleetSize: number } {
  const i = process.argv.indexOf('--runs');
  const runs = i >= 0 ? Number(process.argv[i + 1]) : 15;
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error(`--runs must be a positive integer; got ${process.argv[i + 1]}`);
  }
  const j = process.argv.indexOf('--baseline-ref');
  const baselineRef = j >= 0 ? process.argv[j + 1] : DEFAULT_BASELINE_REF;
  if (!baselineRef || baselineRef.startsWith('--')) {
    throw new Error(`--baseline-ref needs a git revision; got ${baselineRef}`);
  }
  const k = process.argv.indexOf('--fleet');
  const fleetSize = k >= 0 ? Number(process.argv[k + 1]) : 3_000;
  if (!Number.isInteger(fleetSize) || fleetSize < 0) {
    throw new Error(`--fleet must be a whole number of instances (0 skips the fleet runs); got ${process.argv[k + 1]}`);
  }
  return { runs, baselineRef, fleetSize };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'imds-bench-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
let outdirs = 0;

/** One synth of one variant in a fresh App, to a fresh output directory. */
function synth(variant: Variant): { artifact: CloudFormationStackArtifact; ms: number } {
  const outdir = path.join(tmp, `out-${outdirs++}`);
  const start = process.hrtime.bigint();
  const app = new App({ outdir });
  const stack = new Stack(app, 'Bench');
  variant.add(stack);
  const assembly = app.synth();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { artifact: assembly.getStackByName('Bench'), ms };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function sizeOf(p: string): number {
  const stat = fs.statSync(p);
  if (!stat.isDirectory()) {
    return stat.size;
  }
  return fs.readdirSync(p).reduce((sum, f) => sum + sizeOf(path.join(p, f)), 0);
}

type Resources = Record<string, { Type: string; Properties?: any }>;

/** Every IAM policy statement in the template (policies, managed policies, role inline policies). */
function iamStatements(resources: Resources): any[] {
  const statements: any[] = [];
  for (const r of Object.values(resources)) {
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') {
      statements.push(...r.Properties.PolicyDocument.Statement);
    }
    if (r.Type === 'AWS::IAM::Role') {
      for (const p of r.Properties.Policies ?? []) {
        statements.push(...p.PolicyDocument.Statement);
      }
    }
  }
  return statements;
}

function hasWildcard(statement: any): boolean {
  const list = (v: unknown) => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
  return [...list(statement.Resource), ...list(statement.Action)].some((v) => JSON.stringify(v).includes('*'));
}

/** The SDK clients a function's first event loads, from its role's permissions. */
function sdkClientsOf(resources: Resources, functionId: string): string[] {
  const roleRef = resources[functionId].Properties.Role?.['Fn::GetAtt']?.[0];
  const actions = Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles ?? []).some((x: any) => x.Ref === roleRef))
    .flatMap((r) => r.Properties.PolicyDocument.Statement)
    .flatMap((s: any) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
  const clients = new Set<string>();
  for (const action of actions) {
    const service = String(action).split(':')[0];
    if (service === 'ec2') clients.add('@aws-sdk/client-ec2');
    if (service === 'lambda') clients.add('@aws-sdk/client-lambda');
    if (service === 'ssm') clients.add('@aws-sdk/client-ssm');
    if (service === 'cloudformation') clients.add('@aws-sdk/client-cloudformation');
    // The readiness check's (granted when httpTokensEnforced is set: the bench's Create turns it on).
    if (service === 'autoscaling') clients.add('@aws-sdk/client-auto-scaling');
    // cloudwatch: only the drift guard's and the instance upgrade's runs, never a first CloudFormation event.
  }
  return [...clients];
}

/**
 * The SDK clients the provider framework loads, which the repository does not
 * have: installed once into a cache directory from the npm registry.
 */
const EXTRA_SDK_CLIENTS = ['@aws-sdk/client-lambda@3.1162.0', '@aws-sdk/client-sfn@3.1162.0'];

/** NODE_PATH for the cold-start processes: the cache above, then the repository's node_modules. */
function sdkNodePath(): string {
  const cache = path.join(os.tmpdir(), `cdk-imds-bench-sdk-${EXTRA_SDK_CLIENTS.join('-').replace(/[@/]/g, '_')}`);
  const names = EXTRA_SDK_CLIENTS.map((spec) => spec.slice(0, spec.lastIndexOf('@')));
  if (!names.every((p) => fs.existsSync(path.join(cache, 'node_modules', p, 'package.json')))) {
    console.error(`bench: installing ${EXTRA_SDK_CLIENTS.join(', ')} into ${cache} (once)`);
    fs.mkdirSync(cache, { recursive: true });
    fs.writeFileSync(path.join(cache, 'package.json'), '{"private":true}');
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-save', '--loglevel=error', ...EXTRA_SDK_CLIENTS],
      { cwd: cache, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return [path.join(cache, 'node_modules'), path.join(ROOT, 'node_modules')].join(path.delimiter);
}

/** Median over fresh Node processes of the time to require the module and the clients it needs. */
function coldStartMs(modulePath: string, clients: string[], nodePath: string, processes = 9): number {
  const script = `
    const start = process.hrtime.bigint();
    require(${JSON.stringify(modulePath)});
    for (const c of ${JSON.stringify(clients)}) require(c);
    process.stdout.write(String(Number(process.hrtime.bigint() - start) / 1e6));`;
  const times: number[] = [];
  for (let i = 0; i < processes; i++) {
    const out = execFileSync(process.execPath, ['-e', script], {
      stdio: ['ignore', 'pipe', 'ignore'], // the SDK's Node version notices go to stderr
      env: { ...process.env, NODE_PATH: nodePath, AWS_REGION: 'us-east-1' },
      cwd: tmp,
    });
    times.push(Number(out.toString()));
  }
  return median(times);
}

/** The file assets of the stack (from its asset manifest), the template itself left out. */
function fileAssets(artifact: CloudFormationStackArtifact): Array<{ hash: string; path: string }> {
  const manifest = JSON.parse(fs.readFileSync(path.join(artifact.assembly.directory, `${artifact.stackName}.assets.json`), 'utf8'));
  return Object.entries<any>(manifest.files ?? {})
    .filter(([, f]) => f.source.path !== artifact.templateFile)
    .map(([hash, f]) => ({ hash, path: f.source.path as string }));
}

/** The handler module of each Lambda function of the stack: inline code written out, or the asset directory. */
function handlerModules(artifact: CloudFormationStackArtifact): Array<{ id: string; file: string; clients: string[] }> {
  const resources: Resources = artifact.template.Resources;
  const assets = fileAssets(artifact);
  const modules = [];
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const handler: string = r.Properties.Handler;
    const moduleName = handler.slice(0, handler.lastIndexOf('.'));
    let dir: string;
    if (r.Properties.Code.ZipFile !== undefined) {
      dir = path.join(tmp, `inline-${id}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `${moduleName}.js`), r.Properties.Code.ZipFile);
    } else {
      const key = JSON.stringify(r.Properties.Code.S3Key);
      const asset = assets.find((a) => key.includes(a.hash));
      if (!asset) throw new Error(`no asset found for ${id} (${key})`);
      dir = path.join(artifact.assembly.directory, asset.path);
    }
    modules.push({ id, file: path.join(dir, `${moduleName}.js`), clients: sdkClientsOf(resources, id) });
  }
  return modules;
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
  } catch (e: any) {
    throw new Error(`git ${args.join(' ')}: ${String(e.stderr ?? e.message).trim()}`);
  }
}

/**
 * The template sizes of a previous release, built from git: its src/ and lambda/
 * (and the tsconfig files esbuild reads for lambda/) extracted into a temporary
 * directory, the handler bundled with the project's esbuild as the
 * `bundle:lambda/account-defaults/index` task does, src/ loaded in a child ts-node process.
 */
function baselineSizes(ref: string): { commit: string; subject: string; sizes: TemplateSizes } {
  const commit = git(['rev-parse', '--verify', `${ref}^{commit}`]);
  const subject = git(['log', '-1', '--format=%s', commit]);
  const dir = path.join(tmp, 'baseline');
  fs.mkdirSync(dir);

  const paths = ['src', 'lambda', 'projenrc/inline-code.js', 'tsconfig.json', 'test/tsconfig.json'].filter((p) => {
    try {
      git(['cat-file', '-e', `${commit}:${p}`]);
      return true;
    } catch {
      return false;
    }
  });
  if (!paths.includes('src') || !paths.includes('lambda')) {
    throw new Error(`--baseline-ref ${ref}: ${commit} has no src/ or no lambda/`);
  }
  const archive = execFileSync('git', ['archive', '--format=tar', commit, ...paths], { cwd: ROOT, maxBuffer: 256 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"cdk-imds-account-defaults-baseline","private":true}\n');
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');

  // The bundle task's own command line (generated from .projenrc.ts), run in the extracted tree.
  // Releases before the second function kept the handler in lambda/index.ts, bundled to
  // assets/lambda/index/index.js where their src/ reads it; later ones read the loader that
  // projenrc/inline-code.js writes beside the bundle.
  const tasks = JSON.parse(fs.readFileSync(path.join(ROOT, '.projen', 'tasks.json'), 'utf8')).tasks;
  const bundleArgs: string[] | undefined = tasks['bundle:lambda/account-defaults/index']?.steps?.find((s: any) => s.execArgs)?.execArgs;
  if (!bundleArgs || bundleArgs[0] !== 'esbuild') {
    throw new Error('bench: .projen/tasks.json has no esbuild step in bundle:lambda/account-defaults/index');
  }
  const flat = fs.existsSync(path.join(dir, 'lambda', 'index.ts'));
  // Every function of the release (one folder each, or the flat lambda/index.ts of the earliest ones).
  const handlers = flat ? ['index'] : fs.readdirSync(path.join(dir, 'lambda')).filter((name) => fs.existsSync(path.join(dir, 'lambda', name, 'index.ts')));
  for (const name of handlers) {
    // The entry point and the outfile (assets/lambda/<name>/index/index.js) both name the folder.
    const args = bundleArgs.slice(1).map((a) => a.replace('lambda/account-defaults/index', flat ? 'lambda/index' : `lambda/${name}/index`));
    execFileSync(path.join(ROOT, 'node_modules', '.bin', 'esbuild'), [...args, '--log-level=warning'],
      { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
  }
  // The release's own loader writer, so its inline code is what it shipped.
  const loaderWriter = path.join(dir, 'projenrc', 'inline-code.js');
  if (!flat && fs.existsSync(loaderWriter)) {
    execFileSync(process.execPath, [loaderWriter, ...handlers], { cwd: dir, stdio: 'ignore' });
  }

  const out = execFileSync(path.join(ROOT, 'node_modules', '.bin', 'ts-node'), [
    '--transpile-only', // the old tree's types were checked when it was released
    '--project', path.join(ROOT, 'bench', 'tsconfig.json'),
    path.join(ROOT, 'bench', 'template-sizes.ts'),
    path.join(dir, 'src'),
  ], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  return { commit, subject, sizes: JSON.parse(out.toString()) };
}

interface Row {
  readonly synthMs: number;
  readonly templateBytes: number;
  readonly functions: number;
  readonly fileAssets: number;
  readonly assetBytes: number;
  readonly statements: number;
  readonly wildcards: number;
  readonly nagFindings: number;
  readonly nagRules: string[];
  readonly coldStartMs: number;
  readonly coldStartParts: string;
}

async function main(): Promise<void> {
  const { runs, baselineRef, fleetSize } = parseArgs();
  const nodePath = sdkNodePath();
  const before = baselineSizes(baselineRef);
  const after = templateSizes(current);

  // Synth time: warm-up rounds (module loading, first reads, JIT), then `runs` interleaved rounds.
  for (let i = 0; i < 3; i++) {
    VARIANTS.forEach((v) => synth(v));
  }
  const times = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
  for (let i = 0; i < runs; i++) {
    for (const v of VARIANTS) {
      times.get(v.name)!.push(synth(v).ms);
    }
  }

  const rows = new Map<string, Row>();
  for (const v of VARIANTS) {
    const { artifact } = synth(v);
    const resources: Resources = artifact.template.Resources;
    const assets = fileAssets(artifact);
    const statements = iamStatements(resources);

    const nagApp = new App({ outdir: path.join(tmp, `nag-${v.name.replace(/\W+/g, '-')}`) });
    v.add(new Stack(nagApp, 'Bench'));
    const nag = runNag(nagApp);
    const unsuppressed = [...nag.unsuppressed, ...nag.errors];

    const modules = handlerModules(artifact);
    const parts = modules.map((m) => ({ m, ms: coldStartMs(m.file, m.clients, nodePath) }));
    rows.set(v.name, {
      synthMs: median(times.get(v.name)!),
      templateBytes: Buffer.byteLength(JSON.stringify(artifact.template)),
      functions: Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function').length,
      fileAssets: assets.length,
      assetBytes: assets.reduce((sum, a) => sum + sizeOf(path.join(artifact.assembly.directory, a.path)), 0),
      statements: statements.length,
      wildcards: statements.filter(hasWildcard).length,
      nagFindings: unsuppressed.length,
      nagRules: [...new Set(unsuppressed.map((f) => f.ruleId))].sort(),
      coldStartMs: parts.reduce((sum, p) => sum + p.ms, 0),
      coldStartParts: parts.length > 1 ? parts.map((p) => p.ms.toFixed(0)).join(' + ') + ' ms' : '',
    });
  }

  const base = rows.get(BASELINE)!;
  const names = VARIANTS.map((v) => v.name);
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  const metric = (label: string, f: (r: Row, name: string) => string) =>
    `| ${label} | ${names.map((n) => f(rows.get(n)!, n)).join(' | ')} |`;
  const lines = [
    `| | ${names.map((n) => (n === 'ImdsAccountDefaults' ? `**${n}**` : n)).join(' | ')} |`,
    `|---|${names.map(() => '---').join('|')}|`,
    metric(`synth time, median of ${runs} (ratio to ${BASELINE})`, (r) => `${r.synthMs.toFixed(0)} ms (${(r.synthMs / base.synthMs).toFixed(2)}x)`),
    metric('template as sent (minified JSON)', (r) => `${r.templateBytes} B (${kb(r.templateBytes)})`),
    metric('Lambda functions', (r) => String(r.functions)),
    metric('file assets (bytes)', (r) => (r.fileAssets ? `${r.fileAssets} (${kb(r.assetBytes)})` : '0')),
    metric('IAM statements (with a wildcard)', (r) => `${r.statements} (${r.wildcards})`),
    metric('cdk-nag findings unsuppressed (AwsSolutions + NIST 800-53 R5)', (r) =>
      (r.nagFindings ? `${r.nagFindings}: ${r.nagRules.map((id) => id.replace('NIST.800.53.R5-', 'NIST-')).join(', ')}` : '0')),
    metric(`handler cold start (require + SDK client, median of 9; ratio to ${BASELINE})`, (r) =>
      `${r.coldStartMs.toFixed(0)} ms (${(r.coldStartMs / base.coldStartMs).toFixed(2)}x${r.coldStartParts ? `: ${r.coldStartParts}` : ''})`),
  ];

  const ours = rows.get('ImdsAccountDefaults')!;
  const targets: Array<[string, boolean]> = [
    ['one Lambda function', ours.functions === 1],
    ['zero file assets', ours.fileAssets === 0],
    [`template as sent under ${TEMPLATE_BUDGET_BYTES} B`, ours.templateBytes < TEMPLATE_BUDGET_BYTES],
    [`synth no slower than ${BASELINE}`, ours.synthMs <= base.synthMs],
    ['no unsuppressed cdk-nag findings', ours.nagFindings === 0],
    [`cold start at most ${COLD_START_MAX_RATIO}x ${BASELINE}'s (${(ours.coldStartMs / base.coldStartMs).toFixed(2)}x)`,
      ours.coldStartMs <= COLD_START_MAX_RATIO * base.coldStartMs],
    [`StackSet's embedded template, every option, within ${EMBEDDED_BUDGET_BYTES} B (${after.stackSetBytes} B, ${after.stackSetCode} code)`,
      after.stackSetBytes <= EMBEDDED_BUDGET_BYTES],
    [`ImdsAccountDefaults alone, every option, under ${TEMPLATE_BUDGET_BYTES} B (${after.standaloneBytes} B)`,
      after.standaloneBytes < TEMPLATE_BUDGET_BYTES],
  ];

  const shortCommit = before.commit.slice(0, 7);
  const sizeRow = (label: string, f: (s: TemplateSizes) => number | undefined, budget: number) => {
    const b = f(before.sizes);
    const a = f(after)!;
    return `| ${label} | ${b !== undefined ? `${b} B (${kb(b)})` : '-'} | ${a} B (${kb(a)}) | ${b !== undefined ? `${(a / b).toFixed(2)}x` : '-'} | ${((a / budget) * 100).toFixed(0)}% of ${budget} B |`;
  };
  const sizeLines = [
    `| template, every option | before: ${shortCommit} | after: current tree | after/before | of its budget |`,
    '|---|---|---|---|---|',
    sizeRow(`StackSet's embedded template (templateBody, settings as parameters; ${after.stackSetCode} code)`, (s) => s.stackSetBytes, EMBEDDED_BUDGET_BYTES),
    sizeRow('ImdsAccountDefaults alone in a stack, as sent (minified JSON, plain code)', (s) => s.standaloneBytes, TEMPLATE_BUDGET_BYTES),
  ];
  if (after.stackSetWithUpgradeBytes !== undefined) {
    const a = after.stackSetWithUpgradeBytes;
    sizeLines.push(sizeRow(`StackSet's embedded template with ImdsInstanceUpgrade too (a second function; ${after.stackSetWithUpgradeCode} code)`, (s) => s.stackSetWithUpgradeBytes, TWO_FUNCTIONS_EMBEDDED_BUDGET_BYTES));
    targets.push([`StackSet's embedded template with ImdsInstanceUpgrade too within ${TWO_FUNCTIONS_EMBEDDED_BUDGET_BYTES} B (${a} B)`, a <= TWO_FUNCTIONS_EMBEDDED_BUDGET_BYTES]);
  }
  if (after.upgradeStandaloneBytes !== undefined) {
    const a = after.upgradeStandaloneBytes;
    sizeLines.push(sizeRow('ImdsInstanceUpgrade alone in a stack, as sent (minified JSON, plain code)', (s) => s.upgradeStandaloneBytes, TEMPLATE_BUDGET_BYTES));
    targets.push([`ImdsInstanceUpgrade alone, every option, under ${TEMPLATE_BUDGET_BYTES} B (${a} B)`, a < TEMPLATE_BUDGET_BYTES]);
  }

  const versionOf = (pkg: string) => JSON.parse(fs.readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')).version;
  console.log(`\nNode ${process.version}, ${os.cpus().length} CPUs, aws-cdk-lib ${versionOf('aws-cdk-lib')}, cdk-nag ${versionOf('cdk-nag')}\n`);
  console.log(lines.join('\n'));
  console.log(`\nTemplate size with every option, before (${shortCommit} "${before.subject}", --baseline-ref ${baselineRef}) and after:\n`);
  console.log(sizeLines.join('\n'));
  console.log('\nTargets for ImdsAccountDefaults:');
  for (const [label, ok] of targets) {
    console.log(`  ${ok ? 'met    ' : 'MISSED '} ${label}`);
  }

  if (fleetSize > 0) {
    const fleet = await fleetBench(fleetSize);
    const theirs = fleet.runs[fleet.runs.length - 1];
    const ratio = (a: number, b: number) => (b === 0 ? '-' : `${(a / b).toFixed(2)}x`);
    console.log(`\nExisting instances: one scheduled run on an emulated fleet of ${fleet.fleetSize} instances (${fleet.candidates} allow IMDSv1: ${fleet.safe} never used it in the 14-day lookback, ${fleet.inUse} still use it), local EC2 and CloudWatch endpoints, the runtime's Node.js and SDK (ratios to the last row):\n`);
    console.log([
      '| run | time | EC2 calls | CloudWatch calls | switched to IMDSv2 only | of those, still using IMDSv1 (would break) |',
      '|---|---|---|---|---|---|',
      ...fleet.runs.map((r) => `| ${r.who}${r.note ? ` (${r.note})` : ''} | ${r.ms} ms (${ratio(r.ms, theirs.ms)}) | ${r.ec2Calls} (${ratio(r.ec2Calls, theirs.ec2Calls)}) | ${r.cloudwatchCalls} | ${r.upgraded} | ${r.upgradedWhileInUse} |`),
    ].join('\n'));
  }
  if (process.argv.includes('--check') && targets.some(([, ok]) => !ok)) {
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
