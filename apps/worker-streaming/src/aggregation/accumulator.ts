import { DDSketch } from '@datadog/sketches-js';
import type { AggregationName } from '@crank/capabilities';

/** Relative accuracy of the quantiles: a p99 of 200 ms is within 2 ms. */
const SKETCH_ACCURACY = 0.01;

const QUANTILES: readonly [AggregationName, number][] = [
  ['p50', 0.5],
  ['p90', 0.9],
  ['p99', 0.99],
];

/** The running aggregate of one key in one window. */
export class Accumulator {
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  /** Only when a quantile is asked for: a sketch costs memory and time per value. */
  private readonly sketch: DDSketch | undefined;

  constructor(withQuantiles: boolean) {
    this.sketch = withQuantiles ? new DDSketch({ relativeAccuracy: SKETCH_ACCURACY }) : undefined;
  }

  add(value: number): void {
    this.count += 1;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    this.sketch?.accept(value);
  }

  /** Takes in everything `other` holds (sessions that an event joins become one). */
  merge(other: Accumulator): void {
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
    if (this.sketch && other.sketch) this.sketch.merge(other.sketch);
  }

  /** The asked-for aggregations (count always). */
  result(names: ReadonlySet<AggregationName>): Partial<Record<AggregationName, number>> {
    const out: Partial<Record<AggregationName, number>> = { count: this.count };
    if (names.has('sum')) out.sum = this.sum;
    if (names.has('min')) out.min = this.min;
    if (names.has('max')) out.max = this.max;
    if (names.has('mean')) out.mean = this.sum / this.count;
    if (this.sketch) {
      for (const [name, q] of QUANTILES) if (names.has(name)) out[name] = this.sketch.getValueAtQuantile(q);
    }
    return out;
  }
}
