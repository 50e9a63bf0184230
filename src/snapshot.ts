import { LIBRARY_NAME } from './private/inline-code';

/**
 * The Description the library writes on each of its functions:
 * `cdk-imds-account-defaults <version>: <purpose>; code sha256 <hex>`
 * (src/private/inline-code.ts, `functionDescription`).
 */
const DESCRIPTION = new RegExp(`^${LIBRARY_NAME} (\\S+): (.*); code sha256 ([0-9a-f]{64})$`);

/**
 * Snapshot tests of stacks that use this library, without churn from its inline code.
 *
 * Each function the library creates carries its handler inline (`Code.ZipFile`, tens of
 * kilobytes of minified JavaScript), and a Description that names the library version and
 * the code's SHA-256. Both change with every release of the library, so a snapshot of the
 * whole template changes on every upgrade even when nothing you control did.
 * `maskInlineCode` replaces exactly those three values with fixed text, in the template and
 * in the template a StackSet embeds (`TemplateBody`), and leaves everything else, including
 * your own functions, as it is: a change of a setting, a role or a schedule still shows.
 *
 * @example
 * import { Template } from 'aws-cdk-lib/assertions';
 * import { ImdsSnapshot } from 'cdk-imds-account-defaults';
 *
 * // In a jest test: expect(masked).toMatchSnapshot();
 * const masked = ImdsSnapshot.maskInlineCode(Template.fromStack(this).toJSON());
 */
export class ImdsSnapshot {
  /** What replaces the code of each of the library's functions. */
  public static readonly MASKED_CODE = `<${LIBRARY_NAME} inline code>`;

  /** What replaces the library version and the code's SHA-256 in the function's Description. */
  public static readonly MASKED_VALUE = '<masked>';

  /**
   * A copy of `template` with the library's inline code masked.
   *
   * For each `AWS::Lambda::Function` whose Description this library wrote, `Code.ZipFile`
   * becomes `MASKED_CODE`, and the version and SHA-256 in the Description become
   * `MASKED_VALUE` (the function's purpose stays). The `TemplateBody` of each
   * `AWS::CloudFormation::StackSet` that holds a JSON template is masked the same way and
   * written back as minified JSON, as the library writes it. Every other value is copied
   * unchanged; `template` itself is not modified.
   *
   * @param template a synthesized CloudFormation template as a JSON object, for example
   * `Template.fromStack(stack).toJSON()` or the parsed `cdk.out/<stack>.template.json`.
   * @returns the masked copy.
   */
  public static maskInlineCode(template: any): any {
    if (!isObject(template)) {
      throw new Error(`ImdsSnapshot.maskInlineCode: template must be a CloudFormation template as a JSON object (with Resources), got ${template === null ? 'null' : typeof template}`);
    }
    return maskTemplate(template);
  }

  private constructor() {}
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function maskTemplate(template: Record<string, any>): Record<string, any> {
  const copy = structuredClone(template);
  if (!isObject(copy.Resources)) {
    return copy;
  }
  for (const resource of Object.values<any>(copy.Resources)) {
    if (!isObject(resource) || !isObject(resource.Properties)) {
      continue;
    }
    if (resource.Type === 'AWS::Lambda::Function') {
      maskFunction(resource.Properties);
    } else if (resource.Type === 'AWS::CloudFormation::StackSet') {
      maskStackSet(resource.Properties);
    }
  }
  return copy;
}

/** Masks one function's code and Description, if this library made it (its Description says so). */
function maskFunction(properties: Record<string, any>): void {
  const description = properties.Description;
  const match = typeof description === 'string' ? DESCRIPTION.exec(description) : null;
  if (match === null) {
    return;
  }
  properties.Description = `${LIBRARY_NAME} ${ImdsSnapshot.MASKED_VALUE}: ${match[2]}; code sha256 ${ImdsSnapshot.MASKED_VALUE}`;
  if (isObject(properties.Code) && typeof properties.Code.ZipFile === 'string') {
    properties.Code.ZipFile = ImdsSnapshot.MASKED_CODE;
  }
}

/** Masks the template a StackSet embeds, when it is a JSON text (a token, or YAML, is left as it is). */
function maskStackSet(properties: Record<string, any>): void {
  if (typeof properties.TemplateBody !== 'string') {
    return;
  }
  let body: unknown;
  try {
    body = JSON.parse(properties.TemplateBody);
  } catch {
    return;
  }
  if (isObject(body)) {
    properties.TemplateBody = JSON.stringify(maskTemplate(body));
  }
}
