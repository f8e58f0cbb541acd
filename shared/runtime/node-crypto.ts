/**
 * `node:crypto` where the runtime has it (Bun, Node, Deno), looked up rather
 * than imported, so a module that also runs in the Worker neither bundles nor
 * needs it: Workers have it only with `nodejs_compat`, which wrangler.toml
 * does not set. Undefined there.
 */
import type * as NodeCrypto from 'node:crypto'

export const nodeCrypto = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
).process?.getBuiltinModule?.('node:crypto') as Partial<typeof NodeCrypto> | undefined
