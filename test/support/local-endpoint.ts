/**
 * The HTTP plumbing shared by the local AWS endpoints (EC2, SSM,
 * CloudFormation): a server on 127.0.0.1 with a free port, the body collected
 * before the emulator sees it, request ids, the log of recorded requests, the
 * queue of injected faults, the `hang` switch, and held answers (holdAnswer:
 * another caller's work interleaved between a request and its answer). Each emulator only turns a
 * request into a reply in its service's protocol.
 */
import * as http from 'http';
import { AddressInfo } from 'net';

/** A fault to inject into the next matching requests. */
export interface Fault {
  /** The service's error code, e.g. RequestLimitExceeded (EC2), ThrottlingException (SSM), Throttling (CloudFormation). */
  readonly code: string;
  /** How many requests it applies to. */
  readonly times: number;
  /** Only this action (default: any). */
  readonly action?: string;
  /** Let this many matching requests through first (default 0). */
  readonly after?: number;
}

/** What an emulator answers a request with. */
export interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  /** Extra response headers (e.g. x-amzn-query-error of awsQuery-compatible JSON services). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** The base of each local endpoint; `R` is the type of its recorded requests. */
export abstract class LocalEndpoint<R extends { readonly action: string; readonly fault?: string }> {
  /** Every request that reached an action, in order (rejected ones included). */
  public readonly requests: R[] = [];
  /** When set, requests are accepted but never answered. */
  public hang = false;
  /** How many requests were answered with an injected fault. */
  public faultsServed = 0;
  /** How many requests were held unanswered because of `hang`. */
  public requestsHeld = 0;

  private readonly faults: Array<{ code: string; remaining: number; action?: string; skip: number }> = [];
  private readonly holds: Array<{
    match: (request: R) => boolean;
    whileHeld: () => Promise<void>;
    done: { resolve: () => void; reject: (err: unknown) => void };
  }> = [];
  private readonly server: http.Server;
  private readonly hanging = new Set<http.ServerResponse>();
  private requestCounter = 0;

  protected constructor() {
    this.server = http.createServer((req, res) => this.onRequest(req, res));
  }

  /** The endpoint URL, for a client's `endpoint` or the AWS_ENDPOINT_URL_<SERVICE> variable. */
  public get endpoint(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Makes the next `times` requests (of `action`, if given) fail with the service's error `code`. */
  public injectFault(fault: Fault): void {
    this.faults.push({ code: fault.code, remaining: fault.times, action: fault.action, skip: fault.after ?? 0 });
  }

  /**
   * Interleaves: the next request matching `match` is answered from the state as
   * it was when the request arrived, but the answer is sent only after
   * `whileHeld` has run to its end (or failed), e.g. another stack's Create run
   * between a handler's read of the claims and its next step. Once only. The
   * promise returned settles when `whileHeld` has (with its error, if any); the
   * held request is answered either way. Not something AWS does on purpose: it
   * stands for the unlucky timing of two concurrent callers.
   */
  public holdAnswer(match: (request: R) => boolean, whileHeld: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => this.holds.push({ match, whileHeld, done: { resolve, reject } }));
  }

  /** Drops the faults not yet used up. */
  public clearFaults(): void {
    this.faults.length = 0;
  }

  /** The requests of one action. */
  public requestsOf(action: string): R[] {
    return this.requests.filter((r) => r.action === action);
  }

  public async stop(): Promise<void> {
    for (const res of this.hanging) {
      res.destroy();
    }
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Listens on 127.0.0.1 with a free port (each emulator's static `start()` calls it). */
  protected async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  /**
   * Answers one request (never throws: errors are answered in the service's own
   * format). `body` is the request body as UTF-8 text, `bytes` as received
   * (a gzip-compressed body, as client-cloudwatch sends large PutMetricData
   * calls, is only meaningful as bytes).
   */
  protected abstract respond(req: http.IncomingMessage, body: string, requestId: string, bytes: Buffer): Reply;

  /**
   * Records a request that reached an action, and says which injected fault
   * (its code) it must be answered with, if any; the recorded request then
   * carries that code in `fault`.
   */
  protected record(request: R): string | undefined {
    this.requests.push(request);
    const fault = this.faults.find((f) => f.remaining > 0 && (f.action === undefined || f.action === request.action));
    if (!fault) {
      return undefined;
    }
    if (fault.skip > 0) {
      fault.skip--;
      return undefined;
    }
    fault.remaining--;
    this.faultsServed++;
    this.requests[this.requests.length - 1] = { ...request, fault: fault.code };
    return fault.code;
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const bytes = Buffer.concat(chunks);
      const body = bytes.toString('utf8');
      const requestId = `00000000-0000-4000-8000-${String(++this.requestCounter).padStart(12, '0')}`;
      if (this.hang) {
        this.requestsHeld++;
        this.hanging.add(res);
        return;
      }
      let reply: Reply;
      const recorded = this.requests.length;
      try {
        reply = this.respond(req, body, requestId, bytes);
      } catch (err) {
        reply = { status: 500, contentType: 'text/plain', body: `emulator bug: ${err}` };
      }
      const request = this.requests.length > recorded ? this.requests[this.requests.length - 1] : undefined;
      const hold = request && this.holds.find((h) => h.match(request));
      if (!hold) {
        this.send(res, reply, requestId);
        return;
      }
      this.holds.splice(this.holds.indexOf(hold), 1);
      Promise.resolve().then(hold.whileHeld).then(
        () => hold.done.resolve(),
        (err) => hold.done.reject(err),
      ).finally(() => this.send(res, reply, requestId));
    });
  }

  private send(res: http.ServerResponse, reply: Reply, requestId: string): void {
    if (res.destroyed) {
      return;
    }
    // AWS sends the request ID as a header, which is where the SDK's $metadata.requestId comes from.
    res.writeHead(reply.status, {
      'content-type': reply.contentType,
      'content-length': Buffer.byteLength(reply.body),
      'x-amzn-requestid': requestId,
      ...reply.headers,
    });
    res.end(reply.body);
  }
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The account the emulators pretend to be (in ARNs and access-denied messages). */
export const TEST_ACCOUNT = '123456789012';

/** The role the access-denied messages name (made up, as Lambda's assumed role would appear). */
export const TEST_ROLE_ARN = `arn:aws:sts::${TEST_ACCOUNT}:assumed-role/ImdsRole/ImdsHandler`;
