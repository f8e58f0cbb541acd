import type { CancelRequestReason, EventOf, InventoryReserved } from '../../schemas/events.ts'
import { SUBJECTS } from '../../schemas/subjects.ts'
import { PauseConsumption, type Handlers, type MessageContext } from '../../shared/nats/consumer.ts'
import { toEvent, type OutgoingEvent } from '../../shared/nats/publish.ts'
import {
  cancellationClaim,
  claimCancellation,
  type CancelClaim,
  type DecisionStore,
  type OrderDecision,
  type PaymentPart,
} from '../../shared/saga/decision.ts'
import {
  SealedTokenError,
  UnknownSealingKeyError,
  type TokenOpener,
} from '../../shared/security/sealed-token.ts'
import {
  CircuitOpenError,
  GatewayUnavailableError,
  RefundRefusedError,
  type ChargeOutcome,
  type GatewayClient,
} from './gateway-client.ts'
import { unresolvedEnd, type ReconciliationEntry } from './reconciliation.ts'
import { toTraceparent } from '../../shared/observability/trace-context.ts'
import { withDeadline } from '../../shared/resilience/deadline.ts'

/** The delivery's span as a reconciliation entry keeps it: the later checks continue the order's trace. */
function traceparentOf(ctx: MessageContext): { traceparent?: string } {
  return ctx.trace === undefined ? {} : { traceparent: toTraceparent(ctx.trace) }
}

/** The lane of a reconciliation entry: its refund event goes where the order's other events went. */
function laneOf(ctx: MessageContext): { priority?: 'express' } {
  return ctx.priority === 'express' ? { priority: 'express' } : {}
}

/** The longest a retry waits to learn whether its order still waits on the charge. */
const STILL_CHARGING_READ_MS = 500

export interface PaymentHandlerDeps {
  gateway: Pick<GatewayClient, 'charge' | 'refund'>
  decisions: DecisionStore
  /** Keys the processor never answered for, and refunds it could not take yet: checked later. */
  reconcile: (entry: ReconciliationEntry) => Promise<void>
  /** Opens the sealed card token of an order (only this service holds the key). */
  tokens: TokenOpener
  /** How long one order may wait for an open breaker before it is left unresolved. */
  maxPauseMs: number
  now?: () => Date
}

/** The refund of an order's charge has one idempotency key, whoever makes it. */
export const refundKeyOf = (orderId: string): string => `refund:${orderId}`

/** Amount-0 orders are confirmed without a charge; this stands for the charge id. */
export const NO_CHARGE = 'none'

type Reason = NonNullable<OrderDecision['reason']>

/** What a cancellation request comes to, decided in one update of the decision. */
type CancelStep =
  | CancelClaim
  /** A charge is in flight: the request is noted and applied when it settles. */
  | { kind: 'deferred' }
  /** The deadline came while a charge was unsettled: the order is cancelled, the charge reconciled. */
  | { kind: 'expired'; decision: OrderDecision }
  /** Already left to reconciliation. */
  | { kind: 'unresolved'; decision: OrderDecision }
  | { kind: 'final'; decision: OrderDecision }
  /** Declined: its `payments.failed` is said again. */
  | { kind: 'declined'; decision: OrderDecision }
  /** Confirmed, and its deadline came: its `payments.completed` is said again. */
  | { kind: 'charged'; decision: OrderDecision }
  | { kind: 'refund'; decision: OrderDecision }
  /** Refunded: the order is cancelled; its `orders.cancelled` is said again. */
  | { kind: 'refunded'; decision: OrderDecision }

export function createPaymentHandlers({
  gateway,
  decisions,
  reconcile,
  tokens,
  maxPauseMs,
  now = () => new Date(),
}: PaymentHandlerDeps) {
  /** Orders held back by an open breaker, with when that began. */
  const pausedSince = new Map<string, number>()
  const stamp = () => now().toISOString()
  const base = (orderId: string) => ({ version: 1 as const, orderId, occurredAt: stamp() })

  const cancelled = (orderId: string, reason: Reason, refundId?: string) =>
    toEvent(SUBJECTS.orderCancelled, {
      ...base(orderId),
      reason,
      ...(refundId === undefined ? {} : { refundId }),
    })

  /**
   * A refund made for a cancellation, said again with it: the delivery that
   * made it may have stopped before its publish. Its message id keeps it once
   * in the duplicate window; past it, the projection and analytics count a
   * refund once by its id and order. None without a refund id (no charge, or
   * the processor said there was nothing left to refund).
   */
  const refundedAgain = (decision: OrderDecision, reason: CancelRequestReason): OutgoingEvent[] => {
    const payment = decision.payment
    const chargeId = payment?.chargeId
    if (payment?.refundId === undefined || chargeId === undefined || chargeId === NO_CHARGE) return []
    return [
      toEvent(SUBJECTS.paymentRefunded, {
        ...base(decision.orderId),
        chargeId,
        chargedCents: payment.amountCents,
        refundId: payment.refundId,
        amountCents: payment.refundedCents ?? payment.amountCents,
        currency: payment.currency,
        reason,
      }),
    ]
  }

  /** Sets the payment part of a `paying` decision; returns the stored decision. */
  const setPayment = (
    orderId: string,
    change: (payment: PaymentPart, d: OrderDecision) => Partial<OrderDecision>,
  ) =>
    decisions.update<OrderDecision>(orderId, (current) => {
      if (current?.payment === undefined) throw new Error(`order ${orderId} has no payment decision`)
      const value: OrderDecision = { ...current, ...change(current.payment, current), updatedAt: stamp() }
      return { value, result: value }
    })

  /**
   * Hands an unresolved charge to reconciliation: the order was cancelled, so
   * any charge the processor made under its key is refunded. Idempotent (an
   * entry already there is kept), so every path that finds `unresolved` makes
   * sure of it: the entry must exist whenever the state is visible.
   */
  const reconcileCharge = (decision: OrderDecision, payment: PaymentPart, ctx: MessageContext) =>
    reconcile({
      orderId: decision.orderId,
      kind: 'charge',
      reason: requestedReason(decision) ?? 'reconciliation',
      amountCents: payment.amountCents,
      currency: payment.currency,
      correlationId: ctx.correlationId,
      ...traceparentOf(ctx),
      ...laneOf(ctx),
    })

  /**
   * The cancellation a deadline turned into `unresolved` (its own, or a
   * customer's that was waiting on the charge); undefined for a charge the
   * processor never answered.
   */
  const requestedReason = (decision: OrderDecision): CancelRequestReason | undefined =>
    decision.reason === 'deadline_exceeded' || decision.reason === 'customer_request'
      ? decision.reason
      : undefined

  /** The event that ends an unresolved order: the cancellation asked for, or the failed payment. */
  const unresolvedOutcome = (decision: OrderDecision, detail: string) =>
    unresolvedEnd(decision.orderId, requestedReason(decision), stamp(), detail)

  /** A decline's `payments.failed`, said again (under its first message id). */
  const declinedAgain = (orderId: string) =>
    toEvent(SUBJECTS.paymentFailed, { ...base(orderId), reason: 'declined', message: 'card_declined' })

  /** What a decided payment says, published again (message ids make it once). */
  async function repeat(decision: OrderDecision, created: InventoryReserved, ctx: MessageContext) {
    const payment = decision.payment
    if (payment === undefined) return []
    switch (payment.state) {
      case 'charged':
        return payment.cancelRequested === undefined
          ? [completed(created, payment.chargeId ?? NO_CHARGE)]
          : refund(decision, payment.cancelRequested, ctx)
      case 'declined':
        return [declinedAgain(decision.orderId)]
      case 'unresolved':
        // The delivery that wrote `unresolved` may have failed before it made the entry.
        await reconcileCharge(decision, payment, ctx)
        return [unresolvedOutcome(decision, 'the processor never answered')]
      case 'refunding':
        return refund(decision, (decision.reason ?? 'customer_request') as CancelRequestReason, ctx)
      case 'refunded': {
        // A late charge that reconciliation refunded after the charge went
        // unanswered was never a cancellation: the order ends payment_failed.
        // Its `payments.failed` is said again: the delivery that decided
        // `unresolved` may have stopped before publishing it, and nothing
        // else releases the order's stock (same message id: stored once).
        const requested = requestedReason(decision)
        if (requested === undefined)
          return [unresolvedFailure(decision.orderId, 'the processor never answered')]
        return [
          ...refundedAgain(decision, requested),
          cancelled(decision.orderId, requested, payment.refundId),
        ]
      }
      default:
        return undefined // charging: settle it
    }
  }

  const completed = (
    event: Pick<InventoryReserved, 'orderId' | 'amountCents' | 'currency'>,
    chargeId: string,
  ) =>
    toEvent(SUBJECTS.paymentCompleted, {
      ...base(event.orderId),
      chargeId,
      amountCents: event.amountCents,
      currency: event.currency,
    })

  const unresolvedFailure = (orderId: string, message: string) =>
    unresolvedEnd(orderId, undefined, stamp(), message)

  /**
   * Refunds a charged order that was cancelled and publishes the outcome. A
   * processor that cannot take the refund now leaves it to reconciliation;
   * the order is cancelled (and its stock returned) either way.
   */
  async function refund(
    decision: OrderDecision,
    reason: CancelRequestReason,
    ctx: MessageContext,
  ): Promise<OutgoingEvent[]> {
    const { orderId } = decision
    const marked = await setPayment(orderId, (p) => ({
      reason,
      payment: { ...p, state: p.state === 'refunded' ? 'refunded' : 'refunding' },
    }))
    const payment = marked.payment as PaymentPart
    if (payment.state === 'refunded')
      return [...refundedAgain(marked, reason), cancelled(orderId, reason, payment.refundId)]
    const chargeId = payment.chargeId ?? NO_CHARGE
    if (chargeId === NO_CHARGE) {
      await setPayment(orderId, (p) => ({ payment: { ...p, state: 'refunded' } }))
      return [cancelled(orderId, reason)]
    }
    try {
      const made = await gateway.refund({
        chargeId,
        key: refundKeyOf(orderId),
        correlationId: ctx.correlationId,
        ...(ctx.trace === undefined ? {} : { trace: ctx.trace }),
      })
      // Concurrent cancellations of one order each find it `refunding` and
      // ask the gateway (one refund: its key is the order's); only the one
      // that records it says so at info level.
      let recordedBefore = false
      await setPayment(orderId, (p) => {
        recordedBefore = p.state === 'refunded'
        return {
          payment: { ...p, state: 'refunded', refundId: made.refundId, refundedCents: made.amountCents },
        }
      })
      const fields = { chargeId, refundId: made.refundId, reason }
      if (recordedBefore)
        ctx.logger.debug(fields, 'charge refund already recorded by a concurrent cancellation')
      else ctx.logger.info(fields, 'charge refunded; order cancelled')
      return [
        toEvent(SUBJECTS.paymentRefunded, {
          ...base(orderId),
          chargeId,
          chargedCents: payment.amountCents,
          refundId: made.refundId,
          amountCents: made.amountCents,
          currency: payment.currency,
          reason,
        }),
        cancelled(orderId, reason, made.refundId),
      ]
    } catch (error) {
      if (error instanceof RefundRefusedError) {
        // Nothing left to refund (someone refunded it by hand): say so loudly, do not loop.
        ctx.logger.error({ err: error, chargeId }, 'processor refused the refund; order cancelled')
        await setPayment(orderId, (p) => ({ payment: { ...p, state: 'refunded' } }))
        return [cancelled(orderId, reason)]
      }
      if (!(error instanceof GatewayUnavailableError || error instanceof CircuitOpenError)) throw error
      ctx.logger.warn({ err: error, chargeId }, 'refund not possible now; reconciliation will retry it')
      await reconcile({
        orderId,
        kind: 'refund',
        chargeId,
        reason,
        amountCents: payment.amountCents,
        currency: payment.currency,
        correlationId: ctx.correlationId,
        ...traceparentOf(ctx),
        ...laneOf(ctx),
      })
      return [cancelled(orderId, reason)]
    }
  }

  /** At or past the order's deadline (an event or decision of a release before deadlines has none). */
  const isPastDeadline = ({ deadlineAt }: { deadlineAt?: string | undefined }): boolean =>
    deadlineAt !== undefined && Date.parse(deadlineAt) <= now().getTime()

  async function pay(event: InventoryReserved, ctx: MessageContext): Promise<readonly OutgoingEvent[]> {
    const { orderId } = event
    const pastDeadline = isPastDeadline(event)
    if (pastDeadline) {
      // Past its deadline: never start a charge. One that began earlier gets
      // no new attempt either (below).
      const claim = await claimCancellation(decisions, orderId, 'deadline_exceeded', 'payment', now)
      if (claim.kind === 'cancelled') {
        ctx.logger.info(
          { deadlineAt: event.deadlineAt },
          'order past its deadline; cancelled without a charge',
        )
        return [cancelled(orderId, 'deadline_exceeded')]
      }
    }
    // Usually nobody has decided the order yet: the claim is a create, with no
    // read; if a record is there already (a cancellation, or this order's
    // earlier delivery) the create fails and the claim is decided on it.
    const claim = await decisions.update(
      orderId,
      (current) => {
        if (current !== null) return { result: current }
        const at = stamp()
        const value: OrderDecision = {
          orderId,
          decision: 'paying',
          decidedBy: 'payment',
          decidedAt: at,
          updatedAt: at,
          payment: {
            state: 'charging',
            amountCents: event.amountCents,
            currency: event.currency,
            ...(event.deadlineAt === undefined ? {} : { deadlineAt: event.deadlineAt }),
          },
        }
        return { value, result: value }
      },
      { assumeAbsent: true },
    )
    if (claim.decision === 'cancelled') {
      ctx.logger.info({ reason: claim.reason }, 'order cancelled before its payment; no charge')
      return claim.decidedBy === 'payment' ? [cancelled(orderId, claim.reason ?? 'customer_request')] : []
    }
    const repeated = await repeat(claim, event, ctx)
    if (repeated !== undefined) return repeated

    // Charging already, and the customer asked to cancel meanwhile, or the
    // order is past its deadline (this is a redelivery, or the message held
    // while the breaker was open, whose deadline may wait behind it on this
    // consumer): no new attempt (a free order makes none anyway). An earlier
    // one may have reached the processor, so the order is settled as
    // unresolved: cancelled as asked (or `deadline_exceeded`), and
    // reconciliation refunds whatever its key took.
    const asked = claim.payment?.cancelRequested
    let outcome: ChargeOutcome
    if ((asked === undefined && !pastDeadline) || event.amountCents === 0)
      outcome = await chargeOrder(event, ctx)
    else {
      pausedSince.delete(orderId)
      outcome = {
        kind: 'unresolved',
        detail:
          asked === undefined
            ? `past its deadline (${event.deadlineAt}) before this attempt; none sent`
            : `cancellation (${asked}) requested before this attempt; none sent`,
      }
    }
    // Left unresolved at or past its deadline (no attempt sent, or the breaker
    // held it until then): that is the deadline's cancellation.
    const expired = outcome.kind === 'unresolved' && isPastDeadline(event)
    // Settled only from `charging`: another delivery of this order, or its
    // deadline, may have decided it meanwhile (`unresolved`, with a
    // reconciliation entry that refunds whatever this charge took). Then what
    // that decision says stands, and is said again.
    const settling = await decisions.update<
      { kind: 'settled'; decision: OrderDecision } | { kind: 'decided'; decision: OrderDecision }
    >(orderId, (current) => {
      if (current?.payment === undefined) throw new Error(`order ${orderId} has no payment decision`)
      if (current.payment.state !== 'charging') return { result: { kind: 'decided', decision: current } }
      // A customer's cancellation that waited on a charge left unresolved is
      // the order's reason: it ends cancelled as asked, and reconciliation
      // refunds whatever the processor took.
      const asked =
        outcome.kind === 'unresolved'
          ? (current.payment.cancelRequested ?? (expired ? 'deadline_exceeded' : undefined))
          : undefined
      const value: OrderDecision = {
        ...current,
        ...(asked === undefined ? {} : { reason: asked }),
        payment: {
          ...current.payment,
          state: outcome.kind === 'succeeded' ? 'charged' : outcome.kind,
          ...(outcome.kind === 'succeeded' ? { chargeId: outcome.chargeId } : {}),
          ...(asked === undefined ? {} : { cancelRequested: asked }),
        },
        updatedAt: stamp(),
      }
      return { value, result: { kind: 'settled', decision: value } }
    })
    if (settling.kind === 'decided') {
      ctx.logger.warn(
        { outcome: outcome.kind, state: settling.decision.payment?.state },
        'charge settled after the order was decided elsewhere; that decision stands',
      )
      return (await repeat(settling.decision, event, ctx)) ?? []
    }
    const settled = settling.decision
    const cancelRequested = settled.payment?.cancelRequested
    switch (outcome.kind) {
      case 'succeeded':
        if (cancelRequested !== undefined) {
          ctx.logger.info({ chargeId: outcome.chargeId, cancelRequested }, 'charged, but cancelled meanwhile')
          return refund(settled, cancelRequested, ctx)
        }
        ctx.logger.info({ chargeId: outcome.chargeId, amountCents: event.amountCents }, 'payment completed')
        return [completed(event, outcome.chargeId)]
      case 'declined':
        ctx.logger.info({ code: outcome.code }, 'payment declined')
        return [
          toEvent(SUBJECTS.paymentFailed, { ...base(orderId), reason: 'declined', message: outcome.code }),
        ]
      case 'unresolved':
        ctx.logger.warn(
          { detail: outcome.detail },
          'charge outcome unknown after the settle budget; cancelling, reconciliation keeps checking',
        )
        await reconcileCharge(settled, settled.payment as PaymentPart, ctx)
        return [unresolvedOutcome(settled, outcome.detail)]
    }
  }

  /**
   * Whether the order's decision still waits on this charge: read fresh
   * before a retry, so an order cancelled meanwhile (its deadline, or a
   * customer's request waiting on the charge) gets no new attempt. A read
   * that fails, or takes longer than
   * {@link STILL_CHARGING_READ_MS} (it runs before the attempt, outside its
   * deadline, and must not hold the retry up), lets the retry go: whatever it
   * takes is settled against the decision afterwards, as for a charge in
   * flight.
   */
  async function stillCharging(orderId: string): Promise<boolean> {
    try {
      const decision = await withDeadline(
        decisions.read(orderId),
        STILL_CHARGING_READ_MS,
        () => new Error('the decision read took too long'),
      )
      return decision?.payment?.state === 'charging' && decision.payment.cancelRequested === undefined
    } catch {
      return true
    }
  }

  /** The charge's outcome; a card whose token does not open is declined without a call. */
  async function chargeOrder(event: InventoryReserved, ctx: MessageContext): Promise<ChargeOutcome> {
    if (event.amountCents === 0) return { kind: 'succeeded', chargeId: NO_CHARGE }
    let token: string
    try {
      token = await tokens.open(event.sealedPaymentToken, event.orderId)
    } catch (error) {
      // A key this service does not hold is a configuration fault (a rotation
      // done in the wrong order): retried, then dead-lettered for a replay once
      // the key is in place. A token that does not open under a key it holds
      // was sealed for another order or altered: the card is refused.
      if (!(error instanceof SealedTokenError) || error instanceof UnknownSealingKeyError) throw error
      ctx.logger.warn({ err: error }, 'sealed payment token does not open; declining')
      return { kind: 'declined', code: 'invalid_payment_token' }
    }
    try {
      const outcome = await gateway.charge(
        { orderId: event.orderId, amountCents: event.amountCents, currency: event.currency, token },
        ctx.trace,
        ctx.correlationId,
        () => stillCharging(event.orderId),
        // No attempt at or past the deadline, however long the waits before it.
        event.deadlineAt === undefined ? undefined : Date.parse(event.deadlineAt),
      )
      pausedSince.delete(event.orderId)
      return outcome
    } catch (error) {
      if (!(error instanceof CircuitOpenError)) throw error
      const since = pausedSince.get(event.orderId) ?? Date.now()
      pausedSince.set(event.orderId, since)
      // Held at most PAYMENT_MAX_PAUSE_MS, and never past the order's deadline:
      // an order is settled by then, or cancelled (and reconciled).
      const deadline = event.deadlineAt === undefined ? Infinity : Date.parse(event.deadlineAt)
      if (Date.now() - since < maxPauseMs && !isPastDeadline(event)) {
        // Handled again when the breaker closes, or at the earlier of the two bounds, whichever comes first.
        const resumeAt = Math.min(since + maxPauseMs, Date.now() + (deadline - now().getTime()))
        throw new PauseConsumption(error.message, 250, resumeAt)
      }
      pausedSince.delete(event.orderId)
      // An earlier delivery may have reached the processor: never read this as "no charge".
      return { kind: 'unresolved', detail: `gateway down for ${Date.now() - since} ms: ${error.message}` }
    }
  }

  /**
   * A cancellation request, decided in one update of the order's decision:
   * claimed as cancelled if nobody decided the order yet; otherwise, on a
   * `paying` order, noted on a charge in flight, or found to need a refund.
   */
  async function cancel(
    event: EventOf<typeof SUBJECTS.orderCancelRequested>,
    ctx: MessageContext,
  ): Promise<readonly OutgoingEvent[]> {
    const { orderId, reason } = event
    const claimed = cancellationClaim(orderId, reason, 'payment', now)
    const step = await decisions.update<CancelStep>(orderId, (current) => {
      const claim = claimed(current)
      if (claim.result.kind !== 'paying' || current === null) return claim
      // The payment worker owns this order.
      const payment = current.payment
      if (payment === undefined) return { result: { kind: 'final', decision: current } }
      if (payment.state === 'charging') {
        // Past the order's deadline a customer's cancellation does not wait
        // either: the deadline's own request may have been dead-lettered
        // with the delivery that was charging, and nothing would settle the
        // charge then.
        if (reason === 'deadline_exceeded' || isPastDeadline(payment)) {
          // Every order is settled by its deadline. A charge still unsettled
          // now may be in flight, or its delivery may have been dead-lettered
          // (no handler will ever settle it): either way the order is
          // cancelled now and its key reconciled, which refunds whatever the
          // processor took under it. A delivery still charging finds the
          // order decided when it settles (see pay()). A customer's request
          // that was waiting on the charge came first: its reason stands.
          const why = payment.cancelRequested ?? reason
          const value: OrderDecision = {
            ...current,
            reason: why,
            payment: { ...payment, state: 'unresolved', cancelRequested: why },
            updatedAt: stamp(),
          }
          return { value, result: { kind: 'expired', decision: value } }
        }
        if (payment.cancelRequested !== undefined) return { result: { kind: 'deferred' } }
        return {
          value: { ...current, payment: { ...payment, cancelRequested: reason }, updatedAt: stamp() },
          result: { kind: 'deferred' },
        }
      }
      // Left to reconciliation: its entry is made sure of (the delivery that wrote it may have failed first).
      if (payment.state === 'unresolved') return { result: { kind: 'unresolved', decision: current } }
      // Refunded by this worker or by reconciliation: the order's cancellation
      // may never have left (the delivery that refunded it stopped before its
      // publish, or reconciliation refunded and publishes only
      // `payments.refunded`), so it is said again.
      if (payment.state === 'refunded') return { result: { kind: 'refunded', decision: current } }
      // Declined: its `payments.failed` is said again, as a redelivery says it
      // (the delivery that decided it may have been dead-lettered before its
      // publish, and only that event releases the order's stock).
      if (payment.state === 'declined') return { result: { kind: 'declined', decision: current } }
      // A confirmed order is final for its deadline, which says its
      // `payments.completed` again: the delivery that charged may have stopped
      // before its publish (then dead-lettered), and only that event confirms
      // the order and sells its stock. A customer may still cancel it, and a
      // customer's cancellation that waited on the charge is applied now.
      if (
        payment.state === 'charged' &&
        reason === 'deadline_exceeded' &&
        payment.cancelRequested === undefined
      )
        return { result: { kind: 'charged', decision: current } }
      const refundDue = payment.state === 'charged' || payment.state === 'refunding'
      return { result: { kind: refundDue ? 'refund' : 'final', decision: current } }
    })
    switch (step.kind) {
      case 'cancelled':
        ctx.logger.info({ reason }, 'order cancelled before any charge')
        return [cancelled(orderId, reason)]
      case 'already_cancelled': {
        const { decidedBy, reason: was } = step.decision
        return decidedBy === 'payment' ? [cancelled(orderId, was ?? reason)] : []
      }
      case 'deferred':
        ctx.logger.info({ reason }, 'cancellation noted; applied when the charge in flight settles')
        return []
      case 'expired':
        ctx.logger.warn(
          { reason },
          'deadline passed with the charge unsettled; cancelling, reconciliation checks the charge',
        )
        await reconcileCharge(step.decision, step.decision.payment as PaymentPart, ctx)
        return [unresolvedOutcome(step.decision, 'the deadline passed with the charge unsettled')]
      case 'unresolved': {
        await reconcileCharge(step.decision, step.decision.payment as PaymentPart, ctx)
        // The cancellation a deadline decided, said again (a redelivery after a
        // failed hand-over). Without one the order ended payment_failed: its
        // `payments.failed` is said again, as for a late charge refunded (its
        // first publish may have been lost with a dead-lettered delivery, and
        // only it releases the order's stock; same message id).
        const requested = requestedReason(step.decision)
        return requested === undefined
          ? [unresolvedFailure(orderId, 'the processor never answered')]
          : [cancelled(orderId, requested)]
      }
      case 'paying':
      case 'final':
        ctx.logger.info(
          { reason, state: step.decision.payment?.state },
          'order already settled; nothing to cancel',
        )
        return []
      case 'refunded': {
        // Refunded after a cancellation (a customer's, a deadline's): that
        // cancellation is said again, with its own reason. A charge
        // reconciliation found after the charge went unanswered (no
        // cancellation asked for) was never an `orders.cancelled`, and
        // `payments.refunded` reports its refund: the order ends
        // payment_failed, and its `payments.failed` is said again (its first
        // publish may have been lost with the delivery that decided it; the
        // order's stock is released only by it).
        const was = requestedReason(step.decision)
        if (was === undefined) {
          ctx.logger.info(
            { reason },
            'order ended payment_failed, its late charge refunded; its payment failure said again',
          )
          return [unresolvedFailure(orderId, 'the processor never answered')]
        }
        ctx.logger.info({ reason: was }, 'order refunded already; its refund and cancellation said again')
        return [
          ...refundedAgain(step.decision, was),
          cancelled(orderId, was, step.decision.payment?.refundId),
        ]
      }
      case 'declined':
        ctx.logger.info({ reason }, 'order declined already; its payment failure said again')
        return [declinedAgain(orderId)]
      case 'charged': {
        const payment = step.decision.payment as PaymentPart
        ctx.logger.info({ reason }, 'deadline of a confirmed order; its payment said again')
        return [
          completed(
            { orderId, amountCents: payment.amountCents, currency: payment.currency },
            payment.chargeId ?? NO_CHARGE,
          ),
        ]
      }
      case 'refund': {
        // A refund already under way keeps the reason it started with; one a
        // customer asked for while the charge was in flight keeps theirs.
        const current = step.decision
        const why =
          current.payment?.state === 'refunding'
            ? (current.reason as CancelRequestReason)
            : (current.payment?.cancelRequested ?? reason)
        return refund(current, why, ctx)
      }
    }
  }

  return {
    [SUBJECTS.inventoryReserved]: pay,
    [SUBJECTS.orderCancelRequested]: cancel,
  } satisfies Handlers
}
