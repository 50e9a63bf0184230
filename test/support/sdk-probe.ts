/**
 * What the fidelity tests of the local endpoints look at on a real SDK client:
 * the HTTP response as the service sent it (before the SDK parses it), and an
 * error as the SDK surfaces it.
 */

/** The last HTTP response a client received, as sent. */
export interface RawResponse {
  status?: number;
  contentType?: string;
  body?: string;
}

/**
 * Records each HTTP response of `client` into the returned object, from inside
 * the deserialize step (before the SDK parses it, as lambda/ec2.ts reads it).
 */
export function captureRaw(client: { middlewareStack: { add: (...args: any[]) => void } }): RawResponse {
  const raw: RawResponse = {};
  client.middlewareStack.add((next: any) => async (args: any) => {
    const result: any = await next(args);
    const chunks: Buffer[] = [];
    for await (const chunk of result.response.body) {
      chunks.push(Buffer.from(chunk));
    }
    raw.status = result.response.statusCode;
    raw.contentType = result.response.headers['content-type'];
    raw.body = Buffer.concat(chunks).toString('utf8');
    result.response.body = new Uint8Array(Buffer.from(raw.body));
    return result;
  }, { step: 'deserialize', priority: 'low' });
  return raw;
}

/** Changes the body of each request of `client` after it was signed (a tampered request). */
export function tamperAfterSigning(client: { middlewareStack: { add: (...args: any[]) => void } }, change: (body: string) => string): void {
  // The last middleware of the last step before the request is sent.
  client.middlewareStack.add((next: any) => async (args: any) => {
    const body = args.request.body;
    if (typeof body === 'string') {
      args.request.body = change(body);
    } else {
      // JSON clients send a Uint8Array (which warns when used as a string): change it as bytes.
      const bytes = body as Uint8Array;
      args.request.body = new Uint8Array(Buffer.from(change(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')), 'utf8'));
    }
    return next(args);
  }, { step: 'finalizeRequest', priority: 'low' });
}

/** The SDK's error for a call: its name (the service's code), HTTP status, fault class, request id and message. */
export async function errorOf(call: Promise<unknown>) {
  try {
    await call;
  } catch (err: any) {
    return { name: err.name, status: err.$metadata?.httpStatusCode, fault: err.$fault, requestId: err.$metadata?.requestId, message: err.message };
  }
  throw new Error('the call succeeded');
}
