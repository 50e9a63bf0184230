/**
 * The handler's log lines and error descriptions (lambda/log.ts).
 */
import { describeError, log } from '../../../lambda/shared/log';
import { captureLogs } from '../support';

test('log writes one JSON object a line: the message, then the fields', () => {
  const logs = captureLogs();
  log('hello', { a: 1, b: 'x' });
  log('bare');
  expect(logs).toEqual(['{"message":"hello","a":1,"b":"x"}', '{"message":"bare"}']);
});

describe('describeError', () => {
  test('an AWS error: its name (the service\'s error code), message and request ID', () => {
    const err = Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { requestId: 'abc-123' } });
    expect(describeError(err)).toBe('Throttling: Rate exceeded (request ID abc-123)');
  });

  test('a plain Error: only its message; no request ID part without one', () => {
    expect(describeError(new Error('boom'))).toBe('boom');
    expect(describeError(Object.assign(new Error('boom'), { $metadata: {} }))).toBe('boom');
  });

  test('an error without a name: only its message', () => {
    expect(describeError(Object.assign(new Error('boom'), { name: '' }))).toBe('boom');
  });

  test('anything else is turned into a string', () => {
    expect(describeError('text')).toBe('text');
    expect(describeError(42)).toBe('42');
    expect(describeError(undefined)).toBe('undefined');
  });
});
