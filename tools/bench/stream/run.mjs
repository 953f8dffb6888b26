#!/usr/bin/env node
// Streaming benchmark: stream.aggregate sustained through client -> controller -> worker-streaming
// (real processes on free loopback ports) over gRPC: events for 1,000 keys in tumbling 1 s
// windows, event time = wall-clock time, sent as NDJSON bytes in 64 KiB chunks as fast as the
// stream takes them. It prints events/s, the latency from a window's close (closedAt, on the
// worker) to the caller, and the peak RSS of controller and worker, next to the same aggregation
// run in this process without Crank (the bare engine, fed the same chunks) in the same run.
// Targets: at least 200,000 events/s and worker RSS under 300 MB; exit status 1 when one is missed.
// Needs the apps built.
//   node tools/bench/stream/run.mjs [--seconds 10] [--keys 1000] [--quantiles] (add p50/p90/p99)
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBenchCluster } from '../jobs/processes.mjs';
import { RssSampler } from '../soak/rss-sampler.mjs';

const TARGET_EVENTS_PER_S = 200_000;
const WORKER_RSS_MAX = 300 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    keys: { type: 'string', default: '1000' },
    quantiles: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const keyCount = Number(values.keys);
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const query = {
  window: { type: 'tumbling', sizeMs: 1000 },
  aggregations: values.quantiles
    ? ['count', 'sum', 'min', 'max', 'mean', 'p50', 'p90', 'p99']
    : ['count', 'sum', 'min', 'max', 'mean'],
};
const keys = Array.from({ length: keyCount }, (_, i) => `sensor-${String(i).padStart(4, '0')}`);

/**
 * NDJSON chunks of events, round-robin over the keys, stamped with the time they are made, for
 * `seconds`; `sent.events` counts them. Pulled by the stream, so it goes as fast as it is taken.
 */
async function* eventChunks(sent, untilMs) {
  let k = 0;
  let value = 0;
  while (Date.now() < untilMs) {
    const ts = Date.now();
    let text = '';
    let n = 0;
    while (text.length < CHUNK_BYTES - 80) {
      text += `{"ts":${ts},"key":"${keys[k]}","value":${(value = (value + 7) % 1000)}}\n`;
      k = (k + 1) % keys.length;
      n += 1;
    }
    sent.events += n;
    yield Buffer.from(text);
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** The bare engine in this process on the same kind of input, for the baseline. */
async function bare() {
  const { aggregateStream } = await import(
    join(root, 'apps/worker-streaming/dist/aggregation/aggregate-stream.js')
  );
  const sent = { events: 0 };
  const started = performance.now();
  async function* input() {
    yield { query };
    yield* eventChunks(sent, Date.now() + seconds * 1000);
  }
  let totals;
  for await (const record of aggregateStream(input(), { maxOpenWindows: 1_000_000, heartbeatMs: 1_000 })) {
    if (record.type === 'totals') totals = record;
  }
  return { events: totals.events, seconds: (performance.now() - started) / 1000 };
}

async function main() {
  let crank;
  const latencies = [];
  let windows = 0;
  const sampler = new RssSampler(100);
  const baseline = await bare();
  console.log(
    `bare engine (in process, no Crank): ${Math.round(baseline.events / baseline.seconds)} events/s`,
  );
  const cluster = await startBenchCluster({
    name: 'stream',
    workerMain: join(root, 'apps/worker-streaming/dist/main.js'),
  });
  try {
    const { controller, worker, client } = cluster;
    sampler.track('controller', controller.pid);
    sampler.track('worker', worker.pid);
    sampler.start();
    const sent = { events: 0 };
    const started = performance.now();
    async function* input() {
      yield { query };
      yield* eventChunks(sent, Date.now() + seconds * 1000);
    }
    let totals;
    for await (const record of client.invokeStream('stream.aggregate', input(), {
      contentType: 'application/x-ndjson',
    })) {
      if (record.type === 'window') {
        windows += 1;
        latencies.push(Date.now() - record.closedAt);
      } else if (record.type === 'totals') totals = record;
    }
    sampler.stop();
    crank = { events: totals.events, seconds: (performance.now() - started) / 1000, totals, baseline };
  } finally {
    sampler.stop();
    await cluster.close();
  }

  const mib = (bytes) => `${Math.round(bytes / 1024 / 1024)} MiB`;
  const perSecond = crank.events / crank.seconds;
  const basePerSecond = crank.baseline.events / crank.baseline.seconds;
  latencies.sort((a, b) => a - b);
  const peak = (name) => sampler.processes.get(name).peak;
  console.log('');
  console.log(
    `| path | events/s | x bare | windows | close -> caller p50 / p99 ms | peak RSS controller | peak RSS worker |`,
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  console.log(
    `| bare engine | ${Math.round(basePerSecond)} | 1.00 | - | - | - | - |\n` +
      `| gRPC, NDJSON | ${Math.round(perSecond)} | ${(perSecond / basePerSecond).toFixed(2)} | ${windows} | ` +
      `${percentile(latencies, 0.5)} / ${percentile(latencies, 0.99)} | ${mib(peak('controller'))} | ${mib(peak('worker'))} |`,
  );
  console.log(
    `\n${keyCount} keys, tumbling 1 s windows, ${seconds} s; totals: ${JSON.stringify(crank.totals)}`,
  );
  const missed = [];
  if (perSecond < TARGET_EVENTS_PER_S) missed.push(`under ${TARGET_EVENTS_PER_S} events/s`);
  if (peak('worker') > WORKER_RSS_MAX) missed.push('worker RSS over 300 MB');
  console.log(missed.length === 0 ? 'targets met' : `MISSED: ${missed.join(', ')}`);
  process.exitCode = missed.length === 0 ? 0 : 1;
}

await main();
