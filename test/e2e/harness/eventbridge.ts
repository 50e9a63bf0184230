/**
 * What EventBridge does for the functions of a deployed template (see
 * CloudFormationStack.schedule and putEvent in cloudformation.ts): the events it
 * delivers, and the pattern matching that decides whether a rule delivers one.
 *
 * - scheduledEvent: the event a rule with a ScheduleExpression sends its targets
 *   ("Scheduled Event", source aws.events, the rule's ARN in resources; EventBridge
 *   User Guide, "Creating a rule that runs on a schedule").
 * - cloudTrailEvent: the event CloudTrail delivers to the default bus for a
 *   management event, "AWS API Call via CloudTrail" (EventBridge User Guide,
 *   "Events from AWS services delivered via CloudTrail"), with the caller's
 *   identity in detail.userIdentity.
 * - matchesPattern: EventBridge's event pattern matching for the operators the
 *   library's rules use and a few more (exact values, prefix, suffix,
 *   anything-but, exists, equals-ignore-case, numeric, $or); any other operator
 *   (wildcard, cidr, …) throws instead of guessing.
 *
 * Simplifications: the shape of detail.requestParameters for
 * ModifyInstanceMetadataDefaults (`{ ModifyInstanceMetadataDefaultsRequest: {...} }`,
 * as CloudTrail logs other EC2 Query actions with a request wrapper) is not
 * documented: a handler should not rely on it; the event's other detail fields
 * are those of CloudTrail's record format (eventVersion 1.09).
 */
import * as crypto from 'crypto';
import type { DeliveredEvent } from '../../support/eventbridge-emulator';

/** An event as EventBridge delivers it to a Lambda target: the shape the local EventBridge endpoint delivers too. */
export type EventBridgeEvent = DeliveredEvent;

/** EventBridge's event times: ISO 8601 to the second, UTC. */
function eventTime(time: Date = new Date()): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface ScheduledEventOptions {
  readonly account: string;
  readonly region: string;
  /** The ARN of the rule that fires. */
  readonly ruleArn: string;
  /** @default now */
  readonly time?: Date;
  /** @default a random UUID */
  readonly id?: string;
}

/** The event a schedule rule delivers to its targets. */
export function scheduledEvent(options: ScheduledEventOptions): EventBridgeEvent {
  return {
    'version': '0',
    'id': options.id ?? crypto.randomUUID(),
    'detail-type': 'Scheduled Event',
    'source': 'aws.events',
    'account': options.account,
    'time': eventTime(options.time),
    'region': options.region,
    'resources': [options.ruleArn],
    'detail': {},
  };
}

export interface CloudTrailEventOptions {
  readonly account: string;
  readonly region: string;
  /** The caller's ARN (detail.userIdentity.arn), e.g. `arn:aws:sts::123456789012:assumed-role/Admin/alice`. */
  readonly callerArn: string;
  /** @default 'ModifyInstanceMetadataDefaults' */
  readonly eventName?: string;
  /** @default 'ec2.amazonaws.com' */
  readonly eventSource?: string;
  /** The event's source. @default 'aws.ec2' (the service of eventSource) */
  readonly source?: string;
  /** detail.requestParameters. @default none (null, as CloudTrail writes it when there are none) */
  readonly requestParameters?: Record<string, any>;
  /** detail.eventID. @default a random UUID */
  readonly eventId?: string;
  /** @default now */
  readonly time?: Date;
  /** detail.errorCode, for a call that failed (CloudTrail records those too). */
  readonly errorCode?: string;
}

/** The event CloudTrail delivers to EventBridge for a management API call. */
export function cloudTrailEvent(options: CloudTrailEventOptions): EventBridgeEvent {
  const eventSource = options.eventSource ?? 'ec2.amazonaws.com';
  const time = eventTime(options.time);
  const session = /:assumed-role\/([^/]+)\/(.+)$/.exec(options.callerArn);
  const userIdentity: Record<string, any> = session
    ? {
      type: 'AssumedRole',
      principalId: `AROAEXAMPLEROLEID1234:${session[2]}`,
      arn: options.callerArn,
      accountId: options.account,
      accessKeyId: 'ASIAEXAMPLEKEYID1234',
      sessionContext: {
        sessionIssuer: {
          type: 'Role',
          principalId: 'AROAEXAMPLEROLEID1234',
          arn: `arn:aws:iam::${options.account}:role/${session[1]}`,
          accountId: options.account,
          userName: session[1],
        },
        attributes: { creationDate: time, mfaAuthenticated: 'false' },
      },
    }
    : { type: 'IAMUser', principalId: 'AIDAEXAMPLEUSERID123', arn: options.callerArn, accountId: options.account, accessKeyId: 'AKIAEXAMPLEKEYID1234' };
  return {
    'version': '0',
    'id': crypto.randomUUID(),
    'detail-type': 'AWS API Call via CloudTrail',
    'source': options.source ?? `aws.${eventSource.split('.')[0]}`,
    'account': options.account,
    'time': time,
    'region': options.region,
    'resources': [],
    'detail': {
      eventVersion: '1.09',
      userIdentity,
      eventTime: time,
      eventSource,
      eventName: options.eventName ?? 'ModifyInstanceMetadataDefaults',
      awsRegion: options.region,
      sourceIPAddress: '198.51.100.7',
      userAgent: 'aws-cli/2.27.0 md/command#ec2.modify-instance-metadata-defaults',
      ...(options.errorCode ? { errorCode: options.errorCode, errorMessage: `${options.errorCode} (recorded by the test)` } : {}),
      requestParameters: options.requestParameters ?? null,
      responseElements: options.errorCode ? null : { requestId: crypto.randomUUID(), return: true },
      requestID: crypto.randomUUID(),
      eventID: options.eventId ?? crypto.randomUUID(),
      readOnly: false,
      eventType: 'AwsApiCall',
      managementEvent: true,
      recipientAccountId: options.account,
      eventCategory: 'Management',
    },
  };
}

/** A rule's EventPattern uses something this matcher does not implement. */
export class UnsupportedPatternError extends Error {}

/**
 * Whether EventBridge would match `event` against `pattern` (the rule's
 * EventPattern, parsed). Throws UnsupportedPatternError for operators it does
 * not implement and for patterns EventBridge would refuse (a leaf that is not an array).
 */
export function matchesPattern(pattern: Record<string, any>, event: unknown): boolean {
  if (pattern === null || typeof pattern !== 'object' || Array.isArray(pattern)) {
    throw new UnsupportedPatternError(`an event pattern is a JSON object, got ${JSON.stringify(pattern)}`);
  }
  return matchObject(pattern, event, '');
}

function matchObject(pattern: Record<string, any>, value: unknown, at: string): boolean {
  return Object.entries(pattern).every(([key, sub]) => {
    const path = at ? `${at}.${key}` : key;
    if (key === '$or') {
      if (!Array.isArray(sub) || sub.length < 2) {
        throw new UnsupportedPatternError(`${path}: $or takes an array of at least two patterns`);
      }
      return sub.some((p) => matchObject(p, value, at));
    }
    const isObject = value !== null && typeof value === 'object' && !Array.isArray(value);
    const field = isObject ? (value as Record<string, unknown>)[key] : undefined;
    const present = isObject && Object.prototype.hasOwnProperty.call(value, key);
    if (Array.isArray(sub)) {
      return matchLeaf(sub, present, field, path);
    }
    if (sub !== null && typeof sub === 'object') {
      return present && matchObject(sub, field, path);
    }
    throw new UnsupportedPatternError(`${path}: the values of an event pattern are arrays or objects, got ${JSON.stringify(sub)}`);
  });
}

/** A leaf: matches when any of its conditions matches the field (any element of the field, when it is an array). */
function matchLeaf(conditions: readonly unknown[], present: boolean, field: unknown, path: string): boolean {
  if (conditions.length === 0) {
    throw new UnsupportedPatternError(`${path}: an empty array matches nothing; EventBridge refuses it`);
  }
  const values = Array.isArray(field) ? field : [field];
  return conditions.some((condition) => {
    if (condition !== null && typeof condition === 'object') {
      const entries = Object.entries(condition);
      if (entries.length !== 1) {
        throw new UnsupportedPatternError(`${path}: a content filter has one operator, got ${JSON.stringify(condition)}`);
      }
      const [op, arg] = entries[0];
      if (op === 'exists') {
        if (typeof arg !== 'boolean') {
          throw new UnsupportedPatternError(`${path}: exists takes true or false`);
        }
        const exists = present && field !== null && typeof field !== 'object';
        return arg ? exists || (Array.isArray(field) && field.length > 0) : !present;
      }
      return present && values.some((v) => matchOperator(op, arg, v, path));
    }
    return present && values.some((v) => isScalar(v) && v === condition);
  });
}

function isScalar(v: unknown): v is string | number | boolean | null {
  return v === null || ['string', 'number', 'boolean'].includes(typeof v);
}

function matchOperator(op: string, arg: any, v: unknown, path: string): boolean {
  switch (op) {
    case 'prefix':
      if (typeof arg !== 'string') {
        throw new UnsupportedPatternError(`${path}: prefix with ${JSON.stringify(arg)} is not implemented (a string only)`);
      }
      return typeof v === 'string' && v.startsWith(arg);
    case 'suffix':
      if (typeof arg !== 'string') {
        throw new UnsupportedPatternError(`${path}: suffix with ${JSON.stringify(arg)} is not implemented (a string only)`);
      }
      return typeof v === 'string' && v.endsWith(arg);
    case 'equals-ignore-case':
      if (typeof arg !== 'string') {
        throw new UnsupportedPatternError(`${path}: equals-ignore-case takes a string`);
      }
      return typeof v === 'string' && v.toLowerCase() === arg.toLowerCase();
    case 'anything-but': {
      if (arg !== null && typeof arg === 'object' && !Array.isArray(arg)) {
        const [[inner, innerArg]] = Object.entries(arg);
        if (!['prefix', 'suffix', 'equals-ignore-case'].includes(inner)) {
          throw new UnsupportedPatternError(`${path}: anything-but with ${inner} is not implemented`);
        }
        return isScalar(v) && v !== null && !matchOperator(inner, innerArg, v, path);
      }
      const excluded = Array.isArray(arg) ? arg : [arg];
      return isScalar(v) && v !== null && !excluded.includes(v);
    }
    case 'numeric':
      return typeof v === 'number' && matchNumeric(arg, v, path);
    default:
      throw new UnsupportedPatternError(`${path}: the operator ${op} is not implemented by the end-to-end suite's matcher`);
  }
}

function matchNumeric(arg: unknown, v: number, path: string): boolean {
  if (!Array.isArray(arg) || arg.length === 0 || arg.length % 2 !== 0) {
    throw new UnsupportedPatternError(`${path}: numeric takes [operator, number, ...], got ${JSON.stringify(arg)}`);
  }
  for (let i = 0; i < arg.length; i += 2) {
    const [op, n] = [arg[i], arg[i + 1]];
    if (typeof n !== 'number') {
      throw new UnsupportedPatternError(`${path}: numeric compares with numbers, got ${JSON.stringify(n)}`);
    }
    const ok = op === '=' ? v === n : op === '<' ? v < n : op === '<=' ? v <= n : op === '>' ? v > n : op === '>=' ? v >= n : undefined;
    if (ok === undefined) {
      throw new UnsupportedPatternError(`${path}: numeric operator ${JSON.stringify(op)}`);
    }
    if (!ok) {
      return false;
    }
  }
  return true;
}

/**
 * Checks a ScheduleExpression as EventBridge validates it: `rate(<n> <unit>)`
 * (a positive integer; minute/hour/day, singular exactly when n is 1) or
 * `cron(<6 fields>)`. Returns the period in minutes for a rate, undefined for cron.
 */
export function scheduleRateMinutes(expression: string): number | undefined {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const n = Number(rate[1]);
    const plural = rate[2].endsWith('s');
    if (n < 1 || plural !== (n > 1)) {
      throw new Error(`ScheduleExpression ${expression} is invalid: EventBridge takes a positive value, with the unit singular for 1 and plural otherwise`);
    }
    return n * { minute: 1, hour: 60, day: 1440 }[rate[2].replace(/s$/, '') as 'minute' | 'hour' | 'day'];
  }
  if (/^cron\(\S+( \S+){5}\)$/.test(expression)) {
    return undefined;
  }
  throw new Error(`ScheduleExpression ${expression} is invalid: EventBridge takes rate(...) or cron(...) with 6 fields`);
}
