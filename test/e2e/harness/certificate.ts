/**
 * A self-signed certificate for 127.0.0.1, made at test time with the openssl
 * command line (Node.js can read certificates but not make them). The
 * handler's process trusts it through NODE_EXTRA_CA_CERTS, as it trusts the
 * real S3 certificate through the system store.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export interface Certificate {
  /** PEM file of the certificate: the value for NODE_EXTRA_CA_CERTS. */
  readonly certFile: string;
  readonly cert: string;
  readonly key: string;
}

/** Writes a new key and certificate (valid one day, SAN IP:127.0.0.1) into `dir`. */
export function makeCertificate(dir: string): Certificate {
  const certFile = path.join(dir, 'response-endpoint.crt');
  const keyFile = path.join(dir, 'response-endpoint.key');
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new Error(`the end-to-end suite makes a self-signed certificate with the openssl command, which failed: ${(err as Error).message}`);
  }
  return { certFile, cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8') };
}
