/**
 * The EC2 calls: GetInstanceMetadataDefaults and ModifyInstanceMetadataDefaults,
 * through the `@aws-sdk/client-ec2` that the Lambda runtime provides.
 *
 * Retries: the SDK's standard retry strategy retries throttling
 * (RequestLimitExceeded), 5xx and network timeouts with exponential backoff and
 * jitter; every call also carries an AbortSignal that the handler fires before
 * the function's deadline, so retries never outlive the time left to answer.
 *
 * HttpTokensEnforced (added to EC2 on 2026-02-24, first in client-ec2 3.997.0):
 * the runtime's client may be older, and an older client silently drops the
 * member from the request it serializes and from the response it parses. Two
 * middlewares make the field safe whatever the client's version:
 * - on Modify, after serialization and before signing, the field is added to the
 *   form body if the serializer left it out (so it is signed like the rest);
 * - on Get, the raw XML response is kept and the field is read from it when
 *   the parsed output lacks it, so the read-back check sees what EC2 reports.
 */
import {
  EC2Client,
  GetInstanceMetadataDefaultsCommand,
  ModifyInstanceMetadataDefaultsCommand,
  ModifyInstanceMetadataDefaultsCommandInput,
} from '@aws-sdk/client-ec2';
import { AccountLevel, Settings, mismatches } from './settings';
import { log } from '../shared/log';
import { CLIENT_CONFIG } from '../shared/sdk';

/**
 * EC2 may answer Get with the old values for a moment after a Modify: the
 * read-back is tried this many times, READ_BACK_INTERVAL_MS apart, before a
 * mismatch is an error.
 */
export const READ_BACK_ATTEMPTS = 4;
export const READ_BACK_INTERVAL_MS = 1_000;

const ENFORCED = 'HttpTokensEnforced';
const RAW_BODY = Symbol('imdsRawResponseBody');

type Middleware = (next: (args: any) => Promise<any>, context: any) => (args: any) => Promise<any>;

/** Creates the EC2 client with bounded per-attempt timeouts and the HttpTokensEnforced safeguards. */
export function createEc2Client(): EC2Client {
  const client = new EC2Client(CLIENT_CONFIG);
  // 'high' in the build step: before contentLengthMiddleware measures the body, and before signing (finalizeRequest).
  client.middlewareStack.add(addEnforcedToRequest, { step: 'build', priority: 'high', name: 'imdsAddHttpTokensEnforced' });
  // 'low' in the deserialize step: inside the deserializer, so it sees the raw response first.
  client.middlewareStack.add(keepRawResponse, { step: 'deserialize', priority: 'low', name: 'imdsKeepRawResponse' });
  client.middlewareStack.add(readEnforcedFromRawResponse, { step: 'initialize', priority: 'low', name: 'imdsReadHttpTokensEnforced' });
  return client;
}

/** Reads the account-level defaults, including who manages them. */
export async function getDefaults(client: EC2Client, abortSignal: AbortSignal): Promise<AccountLevel> {
  const output = await client.send(new GetInstanceMetadataDefaultsCommand({}), { abortSignal });
  return (output.AccountLevel ?? {}) as AccountLevel;
}

/** Changes the given fields (and only them) in one call. */
export async function modifyDefaults(client: EC2Client, settings: Settings, abortSignal: AbortSignal): Promise<void> {
  log('ModifyInstanceMetadataDefaults', { settings });
  const output = await client.send(
    new ModifyInstanceMetadataDefaultsCommand(settings as ModifyInstanceMetadataDefaultsCommandInput),
    { abortSignal },
  );
  if (output.Return === false) {
    throw new Error('ModifyInstanceMetadataDefaults returned false');
  }
}

/**
 * Reads the settings back after a Modify (a few times) and fails unless every
 * requested field took effect. Used by Create, Update and the drift guard.
 */
export async function verifyApplied(client: EC2Client, settings: Settings, signal: AbortSignal): Promise<AccountLevel> {
  for (let attempt = 1; ; attempt++) {
    const after = await getDefaults(client, signal);
    const wrong = mismatches(settings, after);
    if (wrong.length === 0) {
      return after;
    }
    if (attempt >= READ_BACK_ATTEMPTS || signal.aborted) {
      throw new ReadBackError(`ModifyInstanceMetadataDefaults succeeded but GetInstanceMetadataDefaults reports ${wrong.join('; ')}`);
    }
    log('the read-back does not show the change yet', { attempt, mismatches: wrong });
    await new Promise((resolve) => setTimeout(resolve, READ_BACK_INTERVAL_MS));
  }
}

export class ReadBackError extends Error {
  public readonly name = 'ReadBackError';
}

/** Puts HttpTokensEnforced on the wire when the client's serializer does not know it. */
const addEnforcedToRequest: Middleware = (next, context) => async (args) => {
  const value = args.input?.[ENFORCED];
  if (context.commandName === 'ModifyInstanceMetadataDefaultsCommand' && value !== undefined) {
    const request = args.request;
    if (typeof request?.body !== 'string') {
      throw new Error(`cannot check that ${ENFORCED} is in the ModifyInstanceMetadataDefaults request: the client's request body is not a form string`);
    }
    const form = new URLSearchParams(request.body);
    if (!form.has(ENFORCED)) {
      form.append(ENFORCED, String(value));
      request.body = form.toString();
      if (request.headers?.['content-length'] !== undefined) {
        request.headers['content-length'] = String(Buffer.byteLength(request.body));
      }
      log(`this @aws-sdk/client-ec2 does not serialize ${ENFORCED}; added it to the request before signing`);
    } else if (form.get(ENFORCED) !== String(value)) {
      throw new Error(`the serialized ${ENFORCED} is ${JSON.stringify(form.get(ENFORCED))}, expected ${JSON.stringify(value)}`);
    }
  }
  return next(args);
};

/** Buffers the raw GetInstanceMetadataDefaults response so its XML can be read again. */
const keepRawResponse: Middleware = (next, context) => async (args) => {
  const result = await next(args);
  const body = result.response?.body;
  if (context.commandName === 'GetInstanceMetadataDefaultsCommand' && body && typeof body[Symbol.asyncIterator] === 'function') {
    const chunks: Buffer[] = [];
    for await (const chunk of body) {
      chunks.push(Buffer.from(chunk));
    }
    const raw = Buffer.concat(chunks);
    // The deserializer accepts a Uint8Array body as already collected.
    result.response.body = new Uint8Array(raw);
    context[RAW_BODY] = raw.toString('utf8');
  }
  return result;
};

/** Fills in HttpTokensEnforced from the raw XML when the client's parser dropped it. */
const readEnforcedFromRawResponse: Middleware = (next, context) => async (args) => {
  const result = await next(args);
  const accountLevel = result.output?.AccountLevel;
  const raw: string | undefined = context[RAW_BODY];
  if (accountLevel && accountLevel[ENFORCED] === undefined && raw) {
    // EC2 names the element in lower camel case: <accountLevel><httpTokensEnforced>enabled</httpTokensEnforced>
    const match = /<accountLevel>[\s\S]*?<httpTokensEnforced>([^<]*)<\/httpTokensEnforced>[\s\S]*?<\/accountLevel>/.exec(raw);
    if (match) {
      accountLevel[ENFORCED] = match[1];
      log(`this @aws-sdk/client-ec2 does not parse ${ENFORCED}; read it from the raw response`);
    }
  }
  return result;
};
