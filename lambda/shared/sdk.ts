/**
 * What every AWS client of the handler shares: bounded attempts and per-attempt
 * timeouts, and the wait for IAM to propagate a policy created (or changed) in
 * the same deployment.
 */
import { log } from './log';

/** Attempts per call, first one included, under the SDK's standard retry strategy. */
export const MAX_ATTEMPTS = 6;

/**
 * The configuration of each client. Without the timeouts a hanging endpoint would
 * hold one attempt until the deadline. throwOnRequestTimeout: current
 * @smithy/node-http-handler releases only log a warning when requestTimeout
 * passes unless told to throw; older ones, which lack the option, ended the
 * attempt with a TimeoutError. Either way the attempt ends and is retried.
 */
export const CLIENT_CONFIG = {
  maxAttempts: MAX_ATTEMPTS,
  retryMode: 'standard',
  requestHandler: { connectionTimeout: 3_000, requestTimeout: 5_000, throwOnRequestTimeout: true },
} as const;

/**
 * A call made seconds after IAM created or changed the role's policy can be
 * refused before the change has reached the service: an access-denied error is
 * retried this many times (1 s, 2 s, 4 s apart) on the first call to each service.
 */
export const IAM_PROPAGATION_ATTEMPTS = 4;

/** The access-denied error names of the services the handler calls (EC2, SSM, CloudFormation). */
const ACCESS_DENIED = new Set(['UnauthorizedOperation', 'AccessDeniedException', 'AccessDenied']);

/** Whether an error is an access-denied answer. */
export function isAccessDenied(err: unknown): boolean {
  return ACCESS_DENIED.has((err as Error)?.name);
}

/** Runs `call`, retrying access-denied answers while IAM propagates (see IAM_PROPAGATION_ATTEMPTS). */
export async function whileIamPropagates<T>(what: string, call: () => Promise<T>, signal: AbortSignal): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!isAccessDenied(err) || attempt >= IAM_PROPAGATION_ATTEMPTS || signal.aborted) {
        throw err;
      }
      log(`${(err as Error).name} on the first ${what} call: waiting for the role's policy to propagate`, { attempt });
      await new Promise((resolve) => setTimeout(resolve, 1_000 * 2 ** (attempt - 1)));
    }
  }
}
