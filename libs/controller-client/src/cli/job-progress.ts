import { isTerminalJobState, type JobInfo } from '../job-info.js';

/** Where a {@link ProgressBoard} draws: a terminal. */
export interface BoardOutput {
  write(text: string): unknown;
  /** Width of the terminal; lines are cut to fit so that none wraps. */
  columns?: number;
}

/** Cells of the bar: `[#####.....]`. */
const BAR_CELLS = 10;

/**
 * Live progress of jobs on a terminal: one line per running job at the bottom, redrawn in place
 * (cursor up, `\r`, clear) at each update. A job that ends leaves its last line above the live
 * ones for good, so the redrawn block stays as small as the number of jobs running.
 */
export class ProgressBoard {
  // The lines of the running jobs, in the order they first appeared.
  private readonly live = new Map<string, string>();
  // How many lines the last draw left below the finished ones: the cursor is just under them.
  private drawn = 0;

  constructor(private readonly out: BoardOutput) {}

  /** Draws `job`'s new line: in place while it runs, for good once it has ended. */
  update(job: JobInfo): void {
    let text = this.drawn > 0 ? `\x1b[${this.drawn}A\r\x1b[J` : '';
    const line = this.fit(progressLine(job));
    if (isTerminalJobState(job.state)) {
      this.live.delete(job.id);
      text += `${line}\n`;
    } else {
      this.live.set(job.id, line);
    }
    for (const running of this.live.values()) text += `${running}\n`;
    this.drawn = this.live.size;
    this.out.write(text);
  }

  private fit(line: string): string {
    const width = this.out.columns;
    return width !== undefined && width > 1 && line.length >= width ? `${line.slice(0, width - 2)}…` : line;
  }
}

/**
 * One job's progress, e.g. `job-1 [#####.....]  50% processing resizing`: an ended job shows its
 * error code and message, or `cancel requested` while a cancel is on its way.
 */
export function progressLine(job: JobInfo): string {
  const fraction = job.state === 'completed' ? 1 : Math.min(1, Math.max(0, job.progress));
  const cells = Math.round(fraction * BAR_CELLS);
  const bar = `[${'#'.repeat(cells)}${'.'.repeat(BAR_CELLS - cells)}]`;
  const percent = `${String(Math.round(fraction * 100)).padStart(3)}%`;
  const note = job.error
    ? `${job.error.code}: ${job.error.message}`
    : job.cancelRequested && !isTerminalJobState(job.state)
      ? 'cancel requested'
      : job.progressMessage;
  return [job.id, bar, percent, job.state, note].filter((part) => part !== '').join(' ');
}
