import * as v from 'valibot'
import { parseJwkList } from './sealed-token.ts'

/** A required setting holding a P-256 JWK or a JSON array of them; the message never echoes the value. */
export const jwkListFromEnv = v.pipe(
  v.string('is required (see docs/security.md, "Card tokens")'),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    try {
      return parseJwkList(dataset.value)
    } catch (error) {
      addIssue({ message: error instanceof Error ? error.message : 'is not a JWK' })
      return NEVER
    }
  }),
)
