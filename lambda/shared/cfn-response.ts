/**
 * The answer to CloudFormation: a JSON body PUT to the presigned ResponseURL.
 *
 * - The body stays under CloudFormation's 4 KB limit: the reason is cut to fit.
 * - The PUT is retried with backoff until it succeeds or its time runs out.
 * - The ResponseURL is presigned (its query string is a credential): it is
 *   never logged, and it is cut out of any error message before that is logged.
 */
import * as http from 'http';
import * as https from 'https';
import { log } from './log';

/** CloudFormation rejects larger response bodies. */
export const MAX_BODY_BYTES = 4096;

export type Status = 'SUCCESS' | 'FAILED';

/** The fields of the event that the answer echoes. */
export interface ResponseTarget {
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
}

export interface Answer {
  readonly status: Status;
  readonly physicalResourceId: string;
  readonly reason?: string;
  readonly data?: Record<string, string>;
}

/** Builds the response body, cutting the reason so that the body stays under MAX_BODY_BYTES. */
export function responseBody(target: ResponseTarget, answer: Answer): string {
  const body = (reason: string | undefined) => JSON.stringify({
    Status: answer.status,
    Reason: reason,
    PhysicalResourceId: answer.physicalResourceId,
    StackId: target.StackId,
    RequestId: target.RequestId,
    LogicalResourceId: target.LogicalResourceId,
    NoEcho: false,
    Data: answer.data,
  });
  const reason = answer.reason;
  const fits = (text: string) => Buffer.byteLength(text) < MAX_BODY_BYTES;
  if (reason === undefined || fits(body(reason))) {
    return body(reason);
  }
  // The longest prefix that fits (bytes, after JSON escaping), by binary search.
  const cut = (n: number) => body(`${reason.slice(0, n)} [truncated]`);
  let [lo, hi] = [0, reason.length];
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    [lo, hi] = fits(cut(mid)) ? [mid, hi] : [lo, mid - 1];
  }
  return cut(lo);
}

export interface SendOptions {
  /** Attempts, the first included. */
  readonly attempts: number;
  /** Delay before the first retry; doubles after each. */
  readonly firstDelayMs: number;
  /** Give up on one attempt after this long. */
  readonly attemptTimeoutMs: number;
  /** No attempt runs past this time (epoch ms): the function's end. */
  readonly deadline?: number;
}

export const DEFAULT_SEND_OPTIONS: SendOptions = { attempts: 5, firstDelayMs: 250, attemptTimeoutMs: 4_000 };

/** PUTs the answer to the ResponseURL, retrying failed attempts with exponential backoff. */
export async function sendResponse(target: ResponseTarget, answer: Answer, options: SendOptions = DEFAULT_SEND_OPTIONS): Promise<void> {
  const body = responseBody(target, answer);
  log('answering CloudFormation', { status: answer.status, physicalResourceId: answer.physicalResourceId, reason: answer.reason, data: answer.data });
  const remaining = () => (options.deadline ?? Infinity) - Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      await put(target.ResponseURL, body, Math.max(1, Math.min(options.attemptTimeoutMs, remaining())));
      return;
    } catch (err) {
      const message = redactUrl(err instanceof Error ? err.message : String(err), target.ResponseURL);
      log('the answer to CloudFormation did not go through', { attempt, error: message });
      const delay = options.firstDelayMs * 2 ** (attempt - 1);
      if (attempt >= options.attempts || remaining() <= delay) {
        throw new Error(`could not answer CloudFormation after ${attempt} attempts: ${message}`);
      }
      await sleep(delay);
    }
  }
}

function put(url: string, body: string, timeoutMs: number): Promise<void> {
  const target = new URL(url);
  const transport = target.protocol === 'http:' ? http : https;
  return new Promise((resolve, reject) => {
    const request = transport.request(target, {
      method: 'PUT',
      // S3 presigned URLs are signed without a content type.
      headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) },
      timeout: timeoutMs,
    }, (response) => {
      response.resume();
      response.on('end', () => {
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          resolve();
        } else {
          reject(new Error(`HTTP ${status}`));
        }
      });
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}

/** Removes the ResponseURL, and in particular its query string (the signature), from a text. */
export function redactUrl(text: string, url: string): string {
  let out = text.split(url).join('[ResponseURL]');
  const query = url.indexOf('?');
  if (query >= 0 && query < url.length - 1) {
    out = out.split(url.slice(query + 1)).join('[redacted]');
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
