/** Replies to a client arrive on its own inbox prefix (derived from its public key), not on `_INBOX.>`. */
export const inboxPrefixOf = (publicKey: string): string => `_INBOX_${publicKey}`

/**
 * Where services answer a client's requests to them (a replay, the services
 * protocol): a part of its inbox apart from the one its JetStream requests
 * use. A service may publish there and nowhere else in that inbox, so it
 * cannot slip an answer of its own into the client's JetStream traffic, even
 * if it learnt or guessed a pending request's reply subject.
 */
export const answerInboxPrefixOf = (inboxPrefix: string): string => `${inboxPrefix}.answers`
