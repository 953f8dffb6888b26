/**
 * Counters and histograms for the per-call path of the controller and the worker runtime.
 * prom-client's own hash and check a label object on every `inc` and `observe`, a few
 * microseconds a call; these hand out a series once per label set and then count into plain
 * numbers. They answer `get()` in prom-client's metric shape (what `getMetricsAsJSON` returns), so
 * a prom-client Registry exposes them like its own: `registry.registerMetric(metric)`.
 */

/** Bucket bounds (seconds) of the controller's and the workers' call duration histograms. */
export const CALL_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]);

/** One value line of a metric, as prom-client's registry reads it. */
export interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** A metric as prom-client's registry reads it. */
export interface MetricObject {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: MetricValue[];
  aggregator: 'sum';
}

/** Base of the two kinds: series by label set, looked up by their joined values. */
abstract class SeriesMetric<L extends string, S> {
  readonly aggregator = 'sum' as const;
  protected readonly all = new Map<string, { labels: Record<L, string>; series: S }>();

  constructor(
    readonly name: string,
    readonly help: string,
    protected readonly labelNames: readonly L[],
  ) {}

  /** The series of a label set, created on first use. Keep it: looking it up again costs a join. */
  series(labels: Record<L, string>): S {
    const key = this.labelNames.map((name) => labels[name]).join('\u0000');
    let entry = this.all.get(key);
    if (!entry) {
      const copy = Object.fromEntries(this.labelNames.map((name) => [name, labels[name]])) as Record<
        L,
        string
      >;
      entry = { labels: copy, series: this.create() };
      this.all.set(key, entry);
    }
    return entry.series;
  }

  /** Zeroes every series (prom-client's `registry.resetMetrics()`); handles held keep counting. */
  reset(): void {
    for (const { series } of this.all.values()) this.zero(series);
  }

  protected abstract create(): S;
  protected abstract zero(series: S): void;
}

/** A counter series. */
export interface CounterSeries {
  inc(by?: number): void;
}

class CounterValue implements CounterSeries {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

/** A Prometheus counter with labels `L`. */
export class SeriesCounter<L extends string> extends SeriesMetric<L, CounterSeries> {
  readonly type = 'counter' as const;

  protected create(): CounterSeries {
    return new CounterValue();
  }

  protected zero(series: CounterSeries): void {
    (series as CounterValue).value = 0;
  }

  get(): MetricObject {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: [...this.all.values()].map(({ labels, series }) => ({
        labels,
        value: (series as CounterValue).value,
      })),
    };
  }
}

/** A histogram series. */
export interface HistogramSeries {
  observe(value: number): void;
}

class HistogramValue implements HistogramSeries {
  /** Observations per bucket (not cumulative), then one for those above the last bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] as number)) i++;
    (this.counts[i] as number) += 1;
    this.sum += value;
    this.count += 1;
  }
}

/** A Prometheus histogram with labels `L` and the given bucket upper bounds (ascending). */
export class SeriesHistogram<L extends string> extends SeriesMetric<L, HistogramSeries> {
  readonly type = 'histogram' as const;

  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    readonly buckets: readonly number[],
  ) {
    super(name, help, labelNames);
  }

  protected create(): HistogramSeries {
    return new HistogramValue(this.buckets);
  }

  protected zero(series: HistogramSeries): void {
    const value = series as HistogramValue;
    value.counts.fill(0);
    value.sum = 0;
    value.count = 0;
  }

  get(): MetricObject {
    const values: MetricValue[] = [];
    for (const { labels, series } of this.all.values()) {
      const { counts, sum, count } = series as HistogramValue;
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += counts[i] as number;
        values.push({
          labels: { le: bound, ...labels },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      });
      values.push({ labels: { le: '+Inf', ...labels }, value: count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/**
 * Records calls into a counter by outcome and a duration histogram, their series looked up once
 * per key (a capability, say) and outcome and then reused.
 *
 * @param counter - the counter series of a key and an outcome
 * @param histogram - the duration series of a key
 * @returns record(key, outcome, seconds)
 */
export function callRecorder<K>(
  counter: (key: K, outcome: string) => CounterSeries,
  histogram: (key: K) => HistogramSeries,
): (key: K, outcome: string, seconds: number) => void {
  const byKey = new Map<K, { duration: HistogramSeries; outcomes: Map<string, CounterSeries> }>();
  return (key, outcome, seconds) => {
    let series = byKey.get(key);
    if (!series) {
      series = { duration: histogram(key), outcomes: new Map() };
      byKey.set(key, series);
    }
    let count = series.outcomes.get(outcome);
    if (!count) {
      count = counter(key, outcome);
      series.outcomes.set(outcome, count);
    }
    count.inc();
    series.duration.observe(seconds);
  };
}
