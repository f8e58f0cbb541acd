/*
 * A service answers requests only on an inbox. The identity that answers may
 * publish its own records and events, so a reply subject naming one of them
 * (`$KV.order-status.<id>`, `payments.completed`) would have the honest
 * service overwrite its own data on a requester's behalf. nats-server checks
 * an answer against the answering identity's rights, not the asker's.
 */
import type { Msg, NatsConnection, SubscriptionOptions } from '@nats-io/nats-core'

/**
 * `_INBOX.<...>` (the default prefix) or the answer part of an identity's
 * inbox, `_INBOX_<public key>.answers.<...>` (access.ts, answerInboxPrefixOf):
 * the only inboxes a service may answer on. Another reply subject would
 * have nats-server refuse the answer, and log the service's violation.
 */
export function isInboxReply(reply: string): boolean {
  return /^_INBOX(?:_[A-Z0-9]+\.answers)?\./.test(reply)
}

/**
 * The connection for a library that answers requests on its own
 * subscriptions (@nats-io/services): a request whose reply subject is not an
 * inbox never reaches it, and is reported to `dropped`.
 */
export function answeringInboxesOnly(
  nc: NatsConnection,
  dropped: (subject: string, reply: string) => void,
): NatsConnection {
  return new Proxy(nc, {
    get(target, property) {
      if (property === 'subscribe') {
        return (subject: string, options?: SubscriptionOptions) => {
          const callback = options?.callback
          if (callback === undefined) return target.subscribe(subject, options)
          return target.subscribe(subject, {
            ...options,
            callback: (error: Error | null, msg: Msg) => {
              if (error === null && msg.reply !== undefined && msg.reply !== '' && !isInboxReply(msg.reply)) {
                dropped(msg.subject, msg.reply)
                return
              }
              void callback(error, msg)
            },
          })
        }
      }
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}
