// The card-token sealing keys of the local stack (the order intake seals with
// the public key, the payment worker opens with the private one): made on the
// first start and kept in <state>/sealing-keys.json (mode 0600), since tokens
// sealed before a restart must still open after it. --fresh drops them with the rest.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateSealingKeyPair, type SealingKeyPair } from '../../shared/security/sealed-token.ts'
import type { StackContext } from './context.ts'
import { writePrivateFile } from './run-dir.ts'

export async function loadSealingKeys(ctx: StackContext): Promise<void> {
  const file = join(ctx.stateDir, 'sealing-keys.json')
  let pair: SealingKeyPair
  if (existsSync(file)) pair = JSON.parse(readFileSync(file, 'utf8')) as SealingKeyPair
  else {
    pair = await generateSealingKeyPair()
    writePrivateFile(file, `${JSON.stringify(pair)}\n`)
  }
  const publicKey = JSON.stringify(pair.publicJwk)
  ctx.workerSecrets.order['PAYMENT_TOKEN_PUBLIC_KEY'] = publicKey
  ctx.workerSecrets.payment['PAYMENT_TOKEN_PRIVATE_KEYS'] = JSON.stringify([pair.privateJwk])
  // Not a secret; the edge intake (npm run dev:edge) seals with it too.
  ctx.operatorEnv['PAYMENT_TOKEN_PUBLIC_KEY'] = publicKey
}
