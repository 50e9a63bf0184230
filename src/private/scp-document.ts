/**
 * The service control policy document of `ImdsServiceControlPolicy`: its
 * statements, built from plain values (no tokens), so that its size can be
 * measured at synth exactly as AWS Organizations counts it.
 */

/** `AWS::Organizations::Policy` Type of a service control policy. */
export const SCP_POLICY_TYPE = 'SERVICE_CONTROL_POLICY';

/**
 * The maximum size of a service control policy document, in characters
 * (AWS Organizations User Guide, "Quotas and service limits": 5,120 characters).
 * Organizations counts the document as saved, without insignificant whitespace:
 * the minified JSON, which is what `JSON.stringify` writes.
 */
export const SCP_CONTENT_MAX_CHARS = 5120;

/** The statement ids, which users see in CloudTrail's access-denied messages and in the console. */
export const SCP_SIDS = {
  defaults: 'DenyImdsDefaultsChanges',
  launch: 'DenyLaunchWithoutImdsv2',
  optIn: 'DenyImdsv1OptIn',
  credentials: 'DenyImdsv1RoleCredentials',
  parameters: 'DenyImdsLibraryParameterChanges',
  recordTags: 'DenyImdsRecordTagChanges',
  allTagsDelete: 'DenyImdsRecordTagDeleteAll',
} as const;

/**
 * What the library's functions keep outside their resources, and treat as evidence
 * (checked against CloudFormation, never trusted alone): the claims and the instance
 * upgrade's interval claims, under one Parameter Store path, and the instance upgrade's
 * record tags on instances, under one tag-key prefix.
 */
export const LIBRARY_PARAMETER_ARN = 'arn:*:ssm:*:*:parameter/cdk-imds-account-defaults/*';
export const LIBRARY_TAG_KEYS = 'cdk-imds-account-defaults:*';

/** What the document is built from (validated by the construct). */
export interface ScpDocumentInput {
  /** The IAM path of the library's roles, "/<path>/" (never "/"). */
  readonly rolePath: string;
  /** Principal ARNs (roles, users) that may change the settings anyway. */
  readonly breakGlassPrincipalArns: readonly string[];
  /** Add the IMDSv2 launch and opt-out statements (`httpTokens: REQUIRED`). */
  readonly requireImdsv2: boolean;
  /** Add the statement refusing credentials delivered over IMDSv1. */
  readonly denyImdsv1Credentials: boolean;
  /** Add the statements keeping the library's parameters and record tags to its roles. */
  readonly protectLibraryState: boolean;
}

export interface ScpStatement {
  readonly Sid: string;
  readonly Effect: 'Deny';
  readonly Action: string | string[];
  readonly Resource: string;
  readonly Condition: Record<string, Record<string, string | string[]>>;
}

export interface ScpDocument {
  readonly Version: '2012-10-17';
  readonly Statement: ScpStatement[];
}

/**
 * The ARN pattern of every role under `rolePath`, in any partition and account:
 * `aws:PrincipalArn` of a role session is the role's ARN, path included
 * (IAM User Guide, "AWS global condition context keys", aws:PrincipalArn).
 */
export function rolePathPattern(rolePath: string): string {
  return `arn:*:iam::*:role${rolePath}*`;
}

/** Every EC2 instance ARN, in any partition, Region and account. */
const INSTANCE_ARN = 'arn:*:ec2:*:*:instance/*';

/**
 * Builds the document. Service control policies take no `Principal` or
 * `NotPrincipal` as resource policies do: the exempted principals are a
 * condition on `aws:PrincipalArn` (`ArnNotLike`), as in the AWS Organizations
 * User Guide's SCP examples.
 */
export function buildScpDocument(input: ScpDocumentInput): ScpDocument {
  const exempt = (arns: readonly string[]): Record<string, Record<string, string[]>> =>
    (arns.length > 0 ? { ArnNotLike: { 'aws:PrincipalArn': [...arns] } } : {});
  const statements: ScpStatement[] = [
    // The last step of AWS's "Transition to using IMDSv2" guide: only the role that owns the
    // setting may change it. ModifyInstanceMetadataDefaults has no resource-level permissions.
    {
      Sid: SCP_SIDS.defaults,
      Effect: 'Deny',
      Action: 'ec2:ModifyInstanceMetadataDefaults',
      Resource: '*',
      Condition: exempt([rolePathPattern(input.rolePath), ...input.breakGlassPrincipalArns]),
    },
  ];
  if (input.requireImdsv2) {
    // EC2 User Guide, "Example policies to control access the Amazon EC2 API", "Work with
    // instance metadata", "Require the use of IMDSv2": ec2:MetadataHttpTokens is the launched
    // instance's HttpTokens (a condition key of the instance resource of RunInstances).
    // Not exempting the library's roles: none of them launches instances.
    statements.push({
      Sid: SCP_SIDS.launch,
      Effect: 'Deny',
      Action: 'ec2:RunInstances',
      Resource: INSTANCE_ARN,
      Condition: { StringNotEquals: { 'ec2:MetadataHttpTokens': 'required' }, ...exempt(input.breakGlassPrincipalArns) },
    });
    // Same page, "Deny opt-out of IMDSv2": on ModifyInstanceMetadataOptions the requested value
    // is ec2:Attribute/HttpTokens (ec2:MetadataHttpTokens there is the instance's current value);
    // the Null clause leaves calls that do not set HttpTokens (hop limit, endpoint) alone.
    // The library's roles are exempt: ImdsInstanceUpgrade's role may put an instance it switched
    // back to optional (rejectedCallsAction RESTORE_OPTIONAL), which its own IAM policy allows
    // only on instances carrying its record tag; the other roles have no such permission.
    statements.push({
      Sid: SCP_SIDS.optIn,
      Effect: 'Deny',
      Action: 'ec2:ModifyInstanceMetadataOptions',
      Resource: INSTANCE_ARN,
      Condition: {
        StringNotEquals: { 'ec2:Attribute/HttpTokens': 'required' },
        Null: { 'ec2:Attribute/HttpTokens': 'false' },
        ...exempt([rolePathPattern(input.rolePath), ...input.breakGlassPrincipalArns]),
      },
    });
  }
  if (input.denyImdsv1Credentials) {
    // EC2 User Guide, same page, "Require IAM role credentials to be retrieved from IMDSv2":
    // every request signed with instance role credentials carries ec2:RoleDelivery (1.0 when
    // they came over IMDSv1, 2.0 over IMDSv2); other credentials carry no such key, and a
    // Numeric operator on a missing key does not match, so nothing else is denied. The guide
    // names no exceptions, and none is added: the library's functions run on Lambda, whose
    // credentials do not come from an instance's IMDS.
    statements.push({
      Sid: SCP_SIDS.credentials,
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: { NumericLessThan: { 'ec2:RoleDelivery': '2.0' } },
    });
  }
  if (input.protectLibraryState) {
    const libraryAndBreakGlass = exempt([rolePathPattern(input.rolePath), ...input.breakGlassPrincipalArns]);
    // The claims (who manages which field, and the values a rollback restores) and the
    // instance upgrade's interval claims: a forged or deleted one cannot change a value
    // (the functions check claims against CloudFormation), but it can make a Create fail,
    // a Delete leave the settings alone, or a run switch more or fewer instances.
    statements.push({
      Sid: SCP_SIDS.parameters,
      Effect: 'Deny',
      Action: ['ssm:PutParameter', 'ssm:DeleteParameter', 'ssm:DeleteParameters', 'ssm:LabelParameterVersion', 'ssm:UnlabelParameterVersion'],
      Resource: LIBRARY_PARAMETER_ARN,
      Condition: libraryAndBreakGlass,
    });
    // The instance upgrade's record tags (upgraded-at, restored-at, restore-refused-at):
    // writing or removing one changes which instances the cap counts and which the watch
    // looks at. aws:TagKeys holds the keys of the request (EC2 User Guide, "Control access
    // to EC2 resources using resource tags"); a DeleteTags without keys, which deletes every
    // tag, carries none, hence the third statement.
    statements.push({
      Sid: SCP_SIDS.recordTags,
      Effect: 'Deny',
      Action: ['ec2:CreateTags', 'ec2:DeleteTags'],
      Resource: INSTANCE_ARN,
      Condition: { 'ForAnyValue:StringLike': { 'aws:TagKeys': [LIBRARY_TAG_KEYS] }, ...libraryAndBreakGlass },
    });
    statements.push({
      Sid: SCP_SIDS.allTagsDelete,
      Effect: 'Deny',
      Action: 'ec2:DeleteTags',
      Resource: INSTANCE_ARN,
      Condition: { Null: { 'aws:TagKeys': 'true' }, ...libraryAndBreakGlass },
    });
  }
  return { Version: '2012-10-17', Statement: statements };
}
