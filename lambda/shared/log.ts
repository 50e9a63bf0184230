/**
 * Structured logging for the handler. One JSON object a line, so CloudWatch
 * Logs Insights can query it. Nothing here ever receives the ResponseURL:
 * callers pass only the fields they choose (see `describeEvent`).
 */
export function log(message: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ message, ...fields }));
}

/** A short description of an error for logs and failure reasons: its name (the service's error code) and message. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const requestId = (err as { $metadata?: { requestId?: string } }).$metadata?.requestId;
    const name = err.name && err.name !== 'Error' ? `${err.name}: ` : '';
    return `${name}${err.message}${requestId ? ` (request ID ${requestId})` : ''}`;
  }
  return String(err);
}
