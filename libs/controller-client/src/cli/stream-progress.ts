/** Where a {@link StreamProgress} draws: a terminal (stderr). */
export interface ProgressOutput {
  write(text: string): unknown;
  /** Width of the terminal; the line is cut to fit so that it never wraps. */
  columns?: number;
}

/** Options of a {@link StreamProgress}. */
export interface StreamProgressOptions {
  /** Bytes the input holds (a file's size); undefined for stdin, whose size is unknown. */
  totalBytes?: number;
  /** How often the line is redrawn. @default 200 */
  redrawMs?: number;
  /** Clock in ms. @default performance.now */
  now?: () => number;
}

/** Cells of the bar: `[#####.....]`. */
const BAR_CELLS = 20;
const CLEAR_LINE = '\r\x1b[K';

/**
 * The live line of a streaming call on a terminal: bytes sent of the total, records received
 * and throughput, e.g. `[#########...........]  45%  921.6 MB / 2.0 GB  10,312 records  87.3 MB/s`.
 * Redrawn in place on a timer (never more often than that, whatever the record rate); `clear()`
 * takes it off the line before other output goes to the same terminal; `end()` leaves the last
 * figures on their own line.
 */
export class StreamProgress {
  private bytes = 0;
  private records = 0;
  private readonly started: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;

  constructor(
    private readonly out: ProgressOutput,
    private readonly options: StreamProgressOptions = {},
  ) {
    this.now = options.now ?? (() => performance.now());
    this.started = this.now();
  }

  /** Starts redrawing. */
  start(): void {
    this.timer = setInterval(() => this.draw(), this.options.redrawMs ?? 200);
    this.timer.unref();
  }

  /** Counts bytes of the input sent. */
  sent(bytes: number): void {
    this.bytes += bytes;
  }

  /** Counts one record received. */
  received(): void {
    this.records++;
  }

  /** Takes the line off the terminal (it comes back at the next redraw). */
  clear(): void {
    if (!this.drawn) return;
    this.out.write(CLEAR_LINE);
    this.drawn = false;
  }

  /** Stops redrawing and leaves the final figures on their own line. */
  end(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.draw();
    this.out.write('\n');
    this.drawn = false;
  }

  /** The line as it reads now. */
  line(): string {
    const seconds = Math.max(0.001, (this.now() - this.started) / 1000);
    const rate = `${(this.bytes / 1e6 / seconds).toFixed(1)} MB/s`;
    const records = `${this.records.toLocaleString('en-US')} record${this.records === 1 ? '' : 's'}`;
    const total = this.options.totalBytes;
    if (total === undefined || total <= 0) return `${size(this.bytes)} sent  ${records}  ${rate}`;
    const fraction = Math.min(1, this.bytes / total);
    const cells = Math.round(fraction * BAR_CELLS);
    const bar = `[${'#'.repeat(cells)}${'.'.repeat(BAR_CELLS - cells)}]`;
    const percent = `${String(Math.floor(fraction * 100)).padStart(3)}%`;
    return `${bar} ${percent}  ${size(this.bytes)} / ${size(total)}  ${records}  ${rate}`;
  }

  private draw(): void {
    const width = this.out.columns;
    let text = this.line();
    if (width !== undefined && width > 1 && text.length >= width) text = text.slice(0, width - 1);
    this.out.write(`${CLEAR_LINE}${text}`);
    this.drawn = true;
  }
}

/** Bytes in B, kB, MB or GB (powers of 1000, as `MB/s` is). */
function size(bytes: number): string {
  if (bytes < 1e3) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(2)} GB`;
}
