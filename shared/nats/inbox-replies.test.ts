import type { Msg, NatsConnection, SubscriptionOptions } from '@nats-io/nats-core'
import { describe, expect, it } from 'vitest'
import { answeringInboxesOnly, isInboxReply } from './inbox-replies.ts'

describe('answering on inboxes only', () => {
  it("knows an inbox: the default prefix or an identity's answer part, nothing else", () => {
    expect(['_INBOX.abc.1', '_INBOX_UABC123.answers.x'].map(isInboxReply)).toStrictEqual([true, true])
    const others = [
      // An identity's own inbox outside its answer part: services may not publish there.
      '_INBOX_UABC123.x',
      '_INBOX_UABC123.answersx.1',
      '$KV.order-status.o1',
      'payments.completed',
      '$JS.API.STREAM.PURGE.ORDERS',
      '_INBOX',
      'x._INBOX.a',
    ]
    expect(others.map(isInboxReply)).toStrictEqual(others.map(() => false))
  })

  it('hands a library only requests it may answer, and says which it dropped', () => {
    let callback: SubscriptionOptions['callback']
    const nc = {
      subscribe: (_subject: string, options?: SubscriptionOptions) => {
        callback = options?.callback
        return {}
      },
      isClosed: () => false,
    } as unknown as NatsConnection
    const dropped: string[] = []
    const seen: string[] = []
    const wrapped = answeringInboxesOnly(nc, (_subject, reply) => dropped.push(reply))
    wrapped.subscribe('$SRV.INFO', { callback: (_error, msg) => void seen.push(msg.reply ?? '(none)') })
    const msg = (reply?: string) => ({ subject: '$SRV.INFO', reply }) as unknown as Msg
    for (const reply of [
      '_INBOX_UADMIN.answers.1',
      '$KV.order-status.o1',
      undefined,
      'orders.cancelled',
      '_INBOX_UADMIN.1',
    ])
      void callback?.(null, msg(reply))
    expect(seen).toStrictEqual(['_INBOX_UADMIN.answers.1', '(none)'])
    expect(dropped).toStrictEqual(['$KV.order-status.o1', 'orders.cancelled', '_INBOX_UADMIN.1'])
    expect(wrapped.isClosed()).toBe(false)
  })
})
