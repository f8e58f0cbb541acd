// What `npm run compose:secrets` writes besides the secrets themselves, as
// text: the route credentials the cluster block of nats-cluster.conf
// includes, the operator's env file, and the marker env file compose.yaml
// reads (so that compose stops with a clear message until the folder exists).
import { join } from 'node:path'
import type { SecretHolder } from '../../shared/security/deployment-secrets.ts'
import { toEnvFile } from '../start/run-dir.ts'

/** The compose services that hold secrets (one folder each). */
export const COMPOSE_HOLDERS = [
  'order',
  'order-status',
  'inventory',
  'payment',
  'gateway',
  'analytics',
  'console',
  'admin',
] as const
export type ComposeHolder = (typeof COMPOSE_HOLDERS)[number]

/**
 * The identity each one uses. The intake runs with ORDER_PROJECTION=off here
 * (the projection is the order-status service), so it takes the intake-only
 * identity, without the projection's grants (and with the replays the edge's
 * identity lacks).
 */
export function composeIdentity(holder: ComposeHolder): SecretHolder {
  return holder === 'order' ? 'order-intake' : holder
}

/** The NATS nodes of compose.yaml: the route URLs and the server certificate's names. */
export const NATS_NODES = ['nats-1', 'nats-2', 'nats-3'] as const
export const CERTIFICATE_HOSTS = [...NATS_NODES, 'localhost', '127.0.0.1'] as const

/** The user every node authenticates as on the cluster routes. */
export const ROUTE_USER = 'route'

/** The layout of the folder (default `.local/compose`, or $ORDER_SAGA_COMPOSE_DIR). */
export function composePaths(dir: string) {
  return {
    dir,
    /** Every deployment secret (mode 0600); what --force replaces. */
    secretsJson: join(dir, 'secrets.json'),
    /** One folder per holder: `secrets/<holder>/<NAME>`, mounted at /run/secrets/<NAME>. */
    secretsDir: join(dir, 'secrets'),
    holderDir: (holder: ComposeHolder): string => join(dir, 'secrets', holder),
    natsAuth: join(dir, 'nats-auth.conf'),
    natsRoutes: join(dir, 'nats-routes.conf'),
    tlsDir: join(dir, 'tls'),
    caFile: join(dir, 'tls', 'ca.pem'),
    certFile: join(dir, 'tls', 'server.pem'),
    keyFile: join(dir, 'tls', 'server-key.pem'),
    /** Read by compose.yaml (env_file): comments only. */
    composeEnv: join(dir, 'compose.env'),
    /** Shell exports for the operator (mode 0600). */
    operatorEnv: join(dir, 'env'),
    /** The observability profile's Grafana `admin` password (GF_SECURITY_ADMIN_PASSWORD__FILE). */
    grafanaPassword: join(dir, 'grafana-admin-password'),
  }
}
export type ComposePaths = ReturnType<typeof composePaths>

/** The `cluster {}` include: who may connect a route, and the routes this node dials. */
export function renderRoutes(password: string): string {
  const auth = `${ROUTE_USER}:${encodeURIComponent(password)}`
  return [
    '# Written by npm run compose:secrets; included in the cluster block of nats-cluster.conf.',
    '# Nodes authenticate to each other with this user and password.',
    `authorization { user: ${JSON.stringify(ROUTE_USER)}, password: ${JSON.stringify(password)} }`,
    '# A node skips the route to itself.',
    'routes: [',
    ...NATS_NODES.map((node) => `  ${JSON.stringify(`nats-route://${auth}@${node}:6222`)}`),
    ']',
    '',
  ].join('\n')
}

export const COMPOSE_ENV_TEXT = [
  '# Written by npm run compose:secrets. compose.yaml reads this file (env_file) only so',
  '# that docker compose stops with "env file ... not found" until the secrets exist.',
  '',
].join('\n')

/** `export NAME='value'` lines for `. .local/compose/env`. */
export function renderOperatorEnv(entries: Readonly<Record<string, string>>): string {
  return toEnvFile(entries, [
    '# Written by npm run compose:secrets: the keys and the admin NATS identity of the',
    '# compose stack. Load it with `. .local/compose/env` (npm run dlq, npm run provision, curl).',
  ])
}

/** NATS_URL of the published node ports (NATS_1_PORT.. from `env`, else 4222-4224). */
export function publishedNatsUrl(env: Readonly<Record<string, string | undefined>>): string {
  const ports = [env['NATS_1_PORT'] || '4222', env['NATS_2_PORT'] || '4223', env['NATS_3_PORT'] || '4224']
  return ports.map((port) => `tls://127.0.0.1:${port}`).join(',')
}
