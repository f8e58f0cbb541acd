/**
 * prom-client's classes, loaded from its `lib/` files instead of its index.
 * The index also loads the Pushgateway (node:http, node:https, node:zlib) and
 * the cluster aggregator, none of which a worker uses: in a compiled Bun
 * worker they cost about 10 MiB of idle RSS (measured by `npm run bench`,
 * section 4). Types are prom-client's own.
 */
import type * as Prom from 'prom-client'
import collectDefaultMetricsImpl from 'prom-client/lib/defaultMetrics.js'
import CounterImpl from 'prom-client/lib/counter.js'
import GaugeImpl from 'prom-client/lib/gauge.js'
import HistogramImpl from 'prom-client/lib/histogram.js'
import RegistryImpl from 'prom-client/lib/registry.js'

export const Registry = RegistryImpl
export type Registry = Prom.Registry
export const Counter = CounterImpl
export type Counter<T extends string = string> = Prom.Counter<T>
export const Gauge = GaugeImpl
export type Gauge<T extends string = string> = Prom.Gauge<T>
export const Histogram = HistogramImpl
export type Histogram<T extends string = string> = Prom.Histogram<T>
export const collectDefaultMetrics = collectDefaultMetricsImpl
