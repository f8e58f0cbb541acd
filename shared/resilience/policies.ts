import {
  BrokenCircuitError,
  CircuitState,
  ExponentialBackoff,
  SamplingBreaker,
  TaskCancelledError,
  TimeoutStrategy,
  circuitBreaker,
  handleWhen,
  retry,
  timeout,
  wrap,
  type IDefaultPolicyContext,
} from 'cockatiel'

export { BrokenCircuitError, CircuitState }

export interface ResilienceOptions {
  /** Deadline of one attempt. */
  timeoutMs: number
  /** Retries after the first attempt. */
  retries: number
  retryInitialDelayMs: number
  retryMaxDelayMs: number
  /** Share of failed calls in the sampling window that opens the breaker. */
  breakerFailureRate: number
  /** Sampling window of the breaker. */
  breakerWindowMs: number
  /** Fewer calls than this in the window never open the breaker. */
  breakerMinCalls: number
  /** How long the breaker stays open before letting one trial call through. */
  halfOpenAfterMs: number
  /** Which errors are worth retrying and count against the breaker. */
  isTransient: (error: Error) => boolean
}

/**
 * retry( breaker( timeout( call ) ) ): each attempt has its own deadline and
 * abort signal; transient failures are retried with exponential backoff;
 * the breaker (shared by every call) fails fast while the dependency is down.
 */
export function createCallPolicy(options: ResilienceOptions) {
  const transient = handleWhen((error) => options.isTransient(error) || error instanceof TaskCancelledError)
  const breaker = circuitBreaker(transient, {
    halfOpenAfter: options.halfOpenAfterMs,
    // A failure rate, not a run of failures: one customer's card answering 503
    // a few times must not cut everyone off; a gateway that is down fails all.
    breaker: new SamplingBreaker({
      threshold: options.breakerFailureRate,
      duration: options.breakerWindowMs,
      minimumRps: options.breakerMinCalls / (options.breakerWindowMs / 1000),
    }),
  })
  const retryPolicy = retry(
    handleWhen(
      (error) =>
        !(error instanceof BrokenCircuitError) &&
        (options.isTransient(error) || error instanceof TaskCancelledError),
    ),
    {
      maxAttempts: options.retries,
      backoff: new ExponentialBackoff({
        initialDelay: options.retryInitialDelayMs,
        maxDelay: options.retryMaxDelayMs,
      }),
    },
  )
  const perAttempt = timeout(options.timeoutMs, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: true })
  const attempt = wrap(breaker, perAttempt)
  return {
    breaker,
    /**
     * `call` under the policy. `beforeAttempt`, when given, runs before each
     * attempt outside the breaker and the attempt's deadline (what it throws
     * ends the run, is not retried, and is neither a failure nor a success
     * of the dependency).
     */
    execute: <T>(
      call: (context: IDefaultPolicyContext) => Promise<T>,
      beforeAttempt?: () => Promise<void>,
    ): Promise<T> =>
      retryPolicy.execute(async ({ signal }) => {
        if (beforeAttempt !== undefined) await beforeAttempt()
        return attempt.execute(call, signal)
      }),
  }
}

export function circuitStateName(state: CircuitState): 'closed' | 'open' | 'half_open' | 'isolated' {
  switch (state) {
    case CircuitState.Closed:
      return 'closed'
    case CircuitState.Open:
      return 'open'
    case CircuitState.HalfOpen:
      return 'half_open'
    default:
      return 'isolated'
  }
}
