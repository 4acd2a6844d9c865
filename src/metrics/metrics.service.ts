import { Injectable } from '@nestjs/common';
import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
  type Metric,
} from 'prom-client';

/** Seconds, from a fast in-memory call (5 ms) to a slow job or export (2 min). */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * This process's Prometheus registry. Each module declares the instruments it feeds
 * (counters it increments, gauges it reads at scrape time), so the metrics module knows
 * no feature. One registry per application, not prom-client's global one: an instrument
 * asked for twice is the same instrument, and two applications in one process (tests)
 * never collide.
 */
@Injectable()
export class Metrics {
  readonly registry = new Registry();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  counter<L extends string>(config: Omit<CounterConfiguration<L>, 'registers'>): Counter<L> {
    return this.existing(config.name, Counter) ?? new Counter({ ...config, registers: [this.registry] });
  }

  /** A `collect` that fails leaves the gauge at its last value: one unreachable dependency never fails the scrape. */
  gauge<L extends string>(config: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
    const collect = config.collect;
    return (
      this.existing(config.name, Gauge) ??
      new Gauge({
        ...config,
        ...(collect && {
          async collect(this: Gauge<L>) {
            try {
              await collect.call(this);
            } catch {
              // the last value stands
            }
          },
        }),
        registers: [this.registry],
      })
    );
  }

  histogram<L extends string>(config: Omit<HistogramConfiguration<L>, 'registers'>): Histogram<L> {
    return this.existing(config.name, Histogram) ?? new Histogram({ buckets: DURATION_BUCKETS, ...config, registers: [this.registry] });
  }

  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private existing<M>(name: string, kind: abstract new (...args: never[]) => M): M | undefined {
    const metric: Metric | undefined = this.registry.getSingleMetric(name);
    if (metric === undefined) return undefined;
    if (!(metric instanceof kind)) throw new Error(`metric ${name} is already registered as another kind`);
    return metric;
  }
}

/**
 * Bounds a label taken from client input (an event name, a route) to a known set, so a
 * client cannot grow the number of series.
 */
export function knownLabel(value: unknown, known: ReadonlySet<string>, other = 'other'): string {
  return typeof value === 'string' && known.has(value) ? value : other;
}
