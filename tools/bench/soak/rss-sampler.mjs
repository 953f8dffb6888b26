// RSS of the soak's processes, read from /proc/<pid>/status (VmRSS, Linux) once per interval.
import { readFileSync } from 'node:fs';

/** Resident set size of `pid` in bytes, or undefined when the process is gone. */
export function rssBytes(pid) {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined; // a zombie has no VmRSS line
  } catch {
    return undefined;
  }
}

/**
 * Samples every tracked process each `intervalMs`. Per process it keeps the peak and the last
 * sample; `markStart(name)` takes the start figure (the soak calls it once warm-up is over) and
 * `markEnd(name)` the end figure (at the end of the load, or just before the process is stopped).
 */
export class RssSampler {
  /** name -> { pid, start, peak, last, end }, all in bytes; insertion order is report order. */
  processes = new Map();
  timer = undefined;

  constructor(intervalMs = 1_000) {
    this.intervalMs = intervalMs;
  }

  track(name, pid) {
    this.processes.set(name, { pid, start: undefined, peak: 0, last: undefined, end: undefined });
    this.sample(name);
  }

  start() {
    this.timer = setInterval(() => {
      for (const name of this.processes.keys()) this.sample(name);
    }, this.intervalMs);
    this.timer.unref();
  }

  stop() {
    clearInterval(this.timer);
  }

  /** Reads `name` now; a process that is gone keeps its last figures. */
  sample(name) {
    const p = this.processes.get(name);
    if (!p || p.end !== undefined) return undefined;
    const rss = rssBytes(p.pid);
    if (rss === undefined) return undefined;
    p.last = rss;
    p.peak = Math.max(p.peak, rss);
    return rss;
  }

  markStart(name) {
    const p = this.processes.get(name);
    if (p && p.start === undefined) p.start = this.sample(name);
  }

  markEnd(name) {
    const p = this.processes.get(name);
    if (p && p.end === undefined) p.end = this.sample(name) ?? p.last;
  }
}
