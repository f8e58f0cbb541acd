// A private CA and a server certificate for NATS TLS in development and in
// the compose stack, made with the openssl command line (EC P-256, 825 days).
// Clients trust the CA (NATS_TLS_CA_FILE); the server presents the
// certificate for every name in `hosts`. Keys are written with mode 0600.
import { execFile } from 'node:child_process'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface DevCertificates {
  caFile: string
  certFile: string
  keyFile: string
}

function openssl(args: readonly string[], cwd: string): Promise<void> {
  return new Promise((done, fail) => {
    execFile('openssl', args, { cwd, timeout: 30_000 }, (error, _stdout, stderr) =>
      error
        ? fail(new Error(`openssl ${args[0] ?? ''} failed: ${stderr || error.message}`, { cause: error }))
        : done(),
    )
  })
}

/** Makes ca.pem, server.pem and server-key.pem in `dir` for `hosts` (DNS names or IP addresses). */
export async function makeDevCertificates(dir: string, hosts: readonly string[]): Promise<DevCertificates> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',')
  await writeFile(
    join(dir, 'server.ext'),
    `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n`,
  )
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  await openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca-key.pem',
      '-out',
      'ca.pem',
      '-days',
      '825',
      '-subj',
      '/CN=order-saga dev CA',
    ],
    dir,
  )
  await openssl(
    ['req', ...ec, '-keyout', 'server-key.pem', '-out', 'server.csr', '-subj', `/CN=${hosts[0] ?? 'nats'}`],
    dir,
  )
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca-key.pem',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '825',
      '-extfile',
      'server.ext',
    ],
    dir,
  )
  await chmod(join(dir, 'ca-key.pem'), 0o600)
  await chmod(join(dir, 'server-key.pem'), 0o600)
  return {
    caFile: join(dir, 'ca.pem'),
    certFile: join(dir, 'server.pem'),
    keyFile: join(dir, 'server-key.pem'),
  }
}
