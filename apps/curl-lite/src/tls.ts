/**
 * HTTPS over a tcp-tun socket: Node's TLS runs on top of any Duplex (`tls.connect({ socket })`),
 * so the TLS records ride the user-space TCP connection. Certificate failures are curl's exit 60,
 * other handshake failures 35; `-k` skips verification (and the host-name check) as curl does.
 */
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { CurlError, EXIT } from './errors.js';

/** How to check the server: `insecure` is curl's `-k`, `ca` the PEM of `--cacert`. */
export interface TlsSettings {
  readonly insecure?: boolean | undefined;
  readonly ca?: string | Uint8Array | undefined;
}

/** What the handshake produced, for `-v` and `-w`. */
export interface TlsResult {
  readonly socket: tls.TLSSocket;
  /** OpenSSL's verify result (0 when the certificate was verified). */
  readonly verifyResult: number;
}

// OpenSSL's X509_V_ERR_* numbers and texts for the codes Node reports, so `%{ssl_verify_result}`
// and the `-v` line read as curl's (openssl/x509_vfy.h, X509_verify_cert_error_string).
const VERIFY: Readonly<Record<string, readonly [number, string]>> = {
  UNABLE_TO_GET_ISSUER_CERT: [2, 'unable to get issuer certificate'],
  CERT_NOT_YET_VALID: [9, 'certificate is not yet valid'],
  CERT_HAS_EXPIRED: [10, 'certificate has expired'],
  DEPTH_ZERO_SELF_SIGNED_CERT: [18, 'self-signed certificate'],
  SELF_SIGNED_CERT_IN_CHAIN: [19, 'self-signed certificate in certificate chain'],
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: [20, 'unable to get local issuer certificate'],
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: [21, 'unable to verify the first certificate'],
  CERT_REVOKED: [23, 'certificate revoked'],
  HOSTNAME_MISMATCH: [62, 'hostname mismatch'],
};

const VERIFY_CODES = new Set([...Object.keys(VERIFY), 'CERT_UNTRUSTED', 'CERT_REJECTED', 'INVALID_CA', 'CERT_SIGNATURE_FAILURE']);

/** Marks an error raised during the handshake, so `tlsFailure` can tell it from a later one. */
const HANDSHAKE = Symbol('tcp-tun.tlsHandshake');

/**
 * Runs a TLS client handshake on `socket` (already connected) for `host`. Resolves once the
 * session is up; rejects with the raw error (map it with `tlsFailure`).
 */
export function startTls(socket: Duplex, host: string, settings: TlsSettings, log: ((line: string) => void) | undefined): Promise<TlsResult> {
  return new Promise((resolve, reject) => {
    const secure = tls.connect({
      socket,
      host, // the name the certificate is checked against; an IP address sends no SNI (RFC 6066 §3)
      rejectUnauthorized: settings.insecure !== true,
      ALPNProtocols: ['http/1.1'],
      ...(settings.ca === undefined ? {} : { ca: Buffer.from(settings.ca) }),
    });
    log?.('* ALPN: offers http/1.1');
    const onError = (err: Error): void => {
      (err as Error & { [HANDSHAKE]?: boolean })[HANDSHAKE] = true;
      secure.destroy();
      reject(err);
    };
    secure.once('error', onError);
    secure.once('secureConnect', () => {
      secure.off('error', onError);
      const authError = secure.authorizationError as (Error & { code?: string }) | string | null;
      const code = authError === null ? undefined : typeof authError === 'string' ? authError : authError.code ?? authError.message;
      const [verifyResult, verifyText] = code === undefined ? [0, 'ok'] : VERIFY[code] ?? [1, code];
      if (log) {
        const cipher = secure.getCipher();
        log(`* SSL connection using ${secure.getProtocol() ?? '?'} / ${cipher.standardName ?? cipher.name}`);
        log(`* ALPN: server ${secure.alpnProtocol ? `accepted ${secure.alpnProtocol}` : 'did not agree on a protocol. Uses default.'}`);
        const cert = secure.getPeerCertificate();
        if (cert && Object.keys(cert).length > 0) {
          log('* Server certificate:');
          log(`*  subject: ${distinguishedName(cert.subject)}`);
          log(`*  start date: ${cert.valid_from}`);
          log(`*  expire date: ${cert.valid_to}`);
          if (cert.subjectaltname) log(`*  subjectAltName: ${cert.subjectaltname}`);
          log(`*  issuer: ${distinguishedName(cert.issuer)}`);
        }
        log(
          code === undefined
            ? '*  SSL certificate verify ok.'
            : `*  SSL certificate verify result: ${verifyText} (${verifyResult}), continuing anyway.`,
        );
      }
      resolve({ socket: secure, verifyResult });
    });
  });
}

function distinguishedName(dn: tls.Certificate | undefined): string {
  if (!dn) return '';
  return Object.entries(dn)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
    .join('; ');
}

/**
 * Maps a TLS error to curl's exit code and message, or returns undefined when `err` is not a
 * TLS failure (a reset after the handshake is a receive error, not a TLS one).
 */
export function tlsFailure(err: Error & { code?: string; reason?: string }, host: string): CurlError | undefined {
  if (err.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new CurlError(EXIT.PEER_FAILED_VERIFICATION, `SSL: no alternative certificate subject name matches target host name '${host}'`);
  }
  if (err.code !== undefined && VERIFY_CODES.has(err.code)) {
    return new CurlError(
      EXIT.PEER_FAILED_VERIFICATION,
      `SSL certificate problem: ${err.message}\nMore details here: https://curl.se/docs/sslcerts.html (use -k to skip the check, or --cacert to trust the issuer)`,
    );
  }
  if ((err as { [HANDSHAKE]?: boolean })[HANDSHAKE] === true || err.code?.startsWith('ERR_SSL_') === true) {
    if (err.code === 'ECONNRESET') return new CurlError(EXIT.SSL_CONNECT_ERROR, `OpenSSL SSL_connect: Connection reset by peer in connection to ${host}`);
    // OpenSSL's own line, as curl prints it: "OpenSSL/3.0.x: error:0A00010B:SSL routines::wrong version number".
    const ssl = /error:([0-9A-F]+):([^:]*):[^:]*:([^:]*)/.exec(err.message);
    const text = ssl ? `OpenSSL/${process.versions.openssl}: error:${ssl[1]}:${ssl[2]}::${ssl[3]}` : `TLS handshake with ${host} failed: ${err.message}`;
    return new CurlError(EXIT.SSL_CONNECT_ERROR, text);
  }
  return undefined;
}
