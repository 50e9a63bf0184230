/**
 * What the AWS Query services emulated here (CloudFormation, Auto Scaling) answer
 * alike: the error codes for a request whose signature fails, and the
 * `ErrorResponse` document (EC2's Query dialect answers differently: ec2-emulator.ts).
 */
import { escapeXml } from './local-endpoint';
import { SigV4Error } from './sigv4';

/** Query services answer signature problems with these codes, all HTTP 403. */
export function queryAuthFailure(err: SigV4Error): { readonly code: string; readonly message: string } {
  switch (err.failure) {
    case 'missing':
      return { code: 'MissingAuthenticationToken', message: 'Request is missing Authentication Token' };
    case 'unknown-key':
    case 'session-token':
      return { code: 'InvalidClientTokenId', message: 'The security token included in the request is invalid.' };
    case 'scope':
      return { code: 'SignatureDoesNotMatch', message: err.message };
    default:
      return { code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.' };
  }
}

/** The `ErrorResponse` document of a Query service with this XML namespace. */
export function queryErrorXml(namespace: string, code: string, type: string, message: string, requestId: string): string {
  return `<ErrorResponse xmlns="${namespace}">
  <Error>
    <Type>${type}</Type>
    <Code>${code}</Code>
    <Message>${escapeXml(message)}</Message>
  </Error>
  <RequestId>${requestId}</RequestId>
</ErrorResponse>
`;
}
