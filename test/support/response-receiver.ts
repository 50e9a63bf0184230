/**
 * A local stand-in for the presigned S3 URL that CloudFormation gives a custom
 * resource as ResponseURL. It records each answer and checks it as
 * CloudFormation would: a PUT of JSON under 4 KB with a valid Status and the
 * ids of the request. Plain HTTP on 127.0.0.1 (the e2e suite uses HTTPS).
 */
import * as http from 'http';
import { AddressInfo } from 'net';

export interface CfnAnswer {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason?: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly Data?: Record<string, string>;
}

/** The signature part of every ResponseURL this receiver hands out; it must never appear in logs. */
export const RESPONSE_URL_SIGNATURE = 'X-Amz-Signature=0123456789abcdef-secret-signature';

export class ResponseReceiver {
  public static async start(): Promise<ResponseReceiver> {
    const receiver = new ResponseReceiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  /** Valid answers, in the order they arrived. */
  public readonly answers: CfnAnswer[] = [];
  /** Answers CloudFormation would have rejected, with why. */
  public readonly rejected: string[] = [];
  /** How many PUTs reached the receiver, failed ones included. */
  public attempts = 0;

  private failures = 0;
  private readonly server = http.createServer((req, res) => this.onRequest(req, res));
  private readonly waiters: Array<() => void> = [];

  /** A presigned-style URL for one request. */
  public url(requestId: string): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/cloudformation-custom-resource-response/${requestId}?X-Amz-Expires=7200&${RESPONSE_URL_SIGNATURE}`;
  }

  /** Answers the next `n` PUTs with HTTP 500, as S3 sometimes does. */
  public failNext(n: number): void {
    this.failures = n;
  }

  /** Resolves once `n` answers have arrived. */
  public async waitFor(n: number): Promise<CfnAnswer[]> {
    while (this.answers.length < n) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return this.answers;
  }

  public reset(): void {
    this.answers.length = 0;
    this.rejected.length = 0;
    this.attempts = 0;
    this.failures = 0;
  }

  public async stop(): Promise<void> {
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.attempts++;
      if (this.failures > 0) {
        this.failures--;
        res.writeHead(500).end();
        return;
      }
      const raw = Buffer.concat(chunks);
      const problem = check(req, raw);
      if (problem) {
        this.rejected.push(problem);
        res.writeHead(400).end(problem);
      } else {
        this.answers.push(JSON.parse(raw.toString('utf8')));
        res.writeHead(200).end();
      }
      this.waiters.splice(0).forEach((w) => w());
    });
  }
}

function check(req: http.IncomingMessage, raw: Buffer): string | undefined {
  if (req.method !== 'PUT') return `method ${req.method}`;
  if (raw.length >= 4096) return `body of ${raw.length} bytes (limit 4096)`;
  let body: Partial<CfnAnswer>;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return 'body is not JSON';
  }
  if (body.Status !== 'SUCCESS' && body.Status !== 'FAILED') return `Status ${body.Status}`;
  for (const key of ['PhysicalResourceId', 'StackId', 'RequestId', 'LogicalResourceId'] as const) {
    if (typeof body[key] !== 'string' || body[key] === '') return `missing ${key}`;
  }
  if (body.Status === 'FAILED' && !body.Reason) return 'FAILED without a Reason';
  if (body.PhysicalResourceId!.length > 1024) return 'PhysicalResourceId longer than 1 KB';
  return undefined;
}
