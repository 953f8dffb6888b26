import { describe, expect, it } from '@jest/globals';
import { StreamProgress } from './stream-progress.js';

function progress(totalBytes?: number): { bar: StreamProgress; out: string[]; advance(ms: number): void } {
  const out: string[] = [];
  let now = 0;
  const bar = new StreamProgress(
    { write: (text: string) => out.push(text), columns: 100 },
    { ...(totalBytes === undefined ? {} : { totalBytes }), now: () => now },
  );
  return { bar, out, advance: (ms) => (now += ms) };
}

describe('StreamProgress', () => {
  it('shows bytes sent of the total, records and throughput', () => {
    const { bar, advance } = progress(2e9);
    bar.sent(5e8);
    for (let i = 0; i < 12_345; i++) bar.received();
    advance(5000);
    expect(bar.line()).toBe('[#####...............]  25%  500.0 MB / 2.00 GB  12,345 records  100.0 MB/s');
  });

  it('shows what was sent when the size is unknown (stdin)', () => {
    const { bar, advance } = progress();
    bar.sent(1500);
    bar.received();
    advance(1000);
    expect(bar.line()).toBe('1.5 kB sent  1 record  0.0 MB/s');
  });

  it('clears its line on demand and leaves the last figures on their own line at the end', () => {
    const { bar, out, advance } = progress(100);
    bar.sent(100);
    advance(1000);
    bar.clear(); // nothing drawn yet: nothing to clear
    bar.end();
    expect(out).toEqual(['\r\x1b[K[####################] 100%  100 B / 100 B  0 records  0.0 MB/s', '\n']);
  });
});
