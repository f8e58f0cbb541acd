/** Replies to a client arrive on its own inbox prefix (derived from its public key), not on `_INBOX.>`. */
export const inboxPrefixOf = (publicKey: string): string => `_INBOX_${publicKey}`
