/**
 * The per-event timing table the suite prints, so that a regression in the
 * handler's speed or in its cold start shows in the test output: one row per
 * invocation (CloudFormation events, and invocations outside CloudFormation:
 * schedules, EventBridge events, direct invokes), with its calls per service
 * and its EC2 calls by action.
 *
 * For the bench: with E2E_TIMINGS_FILE=<path> in the environment, every row is
 * also appended to that file as one JSON line (TimingRow, plus `file`: the
 * test file), as it is recorded.
 */
import * as fs from 'fs';

export interface TimingRow {
  readonly scenario: string;
  readonly step: string;
  readonly sdk: string;
  /** Spawn to handler loaded, measured by the test. */
  readonly coldStartMs?: number;
  /** Process start to handler loaded, measured in the function's process. */
  readonly initMs?: number;
  /** The handler's wall time. */
  readonly handlerMs?: number;
  /** From handing the event over to the answer reaching the ResponseURL. */
  readonly answerMs?: number;
  readonly status?: string;
  readonly faulted?: boolean;
  /** The requests the event made: EC2/SSM/CloudFormation/CloudWatch/Auto Scaling. */
  readonly calls?: string;
  /** The EC2 requests by action. */
  readonly ec2Calls?: Readonly<Record<string, number>>;
  readonly node?: string;
  readonly clientEc2?: string;
}

export class TimingRecorder {
  private readonly rows: TimingRow[] = [];

  public add(row: TimingRow): void {
    this.rows.push(row);
    const file = process.env.E2E_TIMINGS_FILE;
    if (file) {
      fs.appendFileSync(file, `${JSON.stringify({ file: (globalThis as any).expect?.getState?.().testPath, ...row })}\n`);
    }
  }

  /** The table, with the slowest event (injected faults aside) and the slowest cold start. */
  public format(title: string): string {
    if (this.rows.length === 0) {
      return `${title}: no events`;
    }
    const ms = (n?: number) => (n === undefined ? '-' : `${Math.round(n)} ms`);
    const header = ['scenario', 'event', 'client-ec2', 'cold start', 'init', 'handler', 'answered at', 'calls ec2/ssm/cfn/cw/asg', 'answer', 'ec2 by action'];
    const short = (text: string) => (text.length > 64 ? `${text.slice(0, 63)}…` : text);
    const body = this.rows.map((r) => [
      short(r.scenario), r.step, r.clientEc2 ?? r.sdk, ms(r.coldStartMs), ms(r.initMs), ms(r.handlerMs), ms(r.answerMs), r.calls ?? '-',
      `${r.status ?? '-'}${r.faulted ? ' (injected fault)' : ''}`,
      Object.entries(r.ec2Calls ?? {}).map(([action, n]) => `${action} ${n}`).join(', '),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => (i >= 3 && i <= 7 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();

    const clean = this.rows.filter((r) => !r.faulted && r.handlerMs !== undefined);
    const slowest = clean.reduce<TimingRow | undefined>((a, r) => (!a || r.handlerMs! > a.handlerMs! ? r : a), undefined);
    const cold = this.rows.filter((r) => r.coldStartMs !== undefined);
    const slowestCold = cold.reduce<TimingRow | undefined>((a, r) => (!a || r.coldStartMs! > a.coldStartMs! ? r : a), undefined);
    const node = this.rows.find((r) => r.node)?.node;
    return [
      `${title} (Node.js ${node ?? '?'}; cold start = spawn to handler loaded; init = the same, measured in the function's process; handler = the handler's wall time)`,
      line(header),
      ...body.map(line),
      slowest ? `slowest event without injected faults: handler ${ms(slowest.handlerMs)} (${slowest.scenario} / ${slowest.step})` : 'no event without injected faults',
      slowestCold ? `slowest cold start: ${ms(slowestCold.coldStartMs)} (${slowestCold.scenario} / ${slowestCold.step})` : '',
    ].join('\n');
  }
}
