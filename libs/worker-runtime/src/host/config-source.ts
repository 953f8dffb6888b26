import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';

/** A path in the config: keys and sequence indexes, e.g. `['workers', 0, 'mode']`. */
export type ConfigPath = readonly (string | number)[];

/** One problem of a config file, located. */
export interface ConfigIssue {
  /** 1-based line of the field at fault (of its parent when the field is missing). */
  readonly line: number;
  /** The field, as `workers[0].capabilities[1].id`. */
  readonly field: string;
  /** The rule it breaks, e.g. `must be "per-task" or "pool" (got "batch")`. */
  readonly message: string;
}

/**
 * Thrown when a host config cannot be read or breaks a rule: lists every problem as
 * `file:line: field: rule`, one per line of the message, in the file's order.
 */
export class HostConfigError extends Error {
  constructor(
    readonly file: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(issues.map((issue) => `${file}:${issue.line}: ${issue.field}: ${issue.message}`).join('\n'));
    this.name = 'HostConfigError';
  }
}

/**
 * A parsed YAML (or JSON) document with its positions, so that a problem found in the plain
 * value can be reported at the line that holds it.
 */
export class ConfigSource {
  private constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /**
   * Parses `text`; duplicate keys are refused.
   * @throws HostConfigError naming the line of each syntax error
   */
  static parse(text: string, file: string): ConfigSource {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
    if (doc.errors.length > 0) {
      throw new HostConfigError(
        file,
        doc.errors.map((error) => ({
          line: error.linePos?.[0].line ?? 1,
          field: '(syntax)',
          // Pretty errors say "... at line 3, column 5:" and quote the text; the line is given apart.
          message: (error.message.split('\n')[0] ?? error.message).replace(/ at line \d+, column \d+:?$/, ''),
        })),
      );
    }
    return new ConfigSource(file, doc, lines);
  }

  /** The document as plain JSON values. */
  value(): unknown {
    return this.doc.toJS({ maxAliasCount: 100 }) as unknown;
  }

  /** The line of the deepest node on `path` that exists: a key's own line for a map entry. */
  lineOf(path: ConfigPath): number {
    let node: unknown = this.doc.contents;
    let offset = rangeStart(node) ?? 0;
    for (const step of path) {
      if (isMap(node)) {
        const pair = node.items.find((item) => isScalar(item.key) && item.key.value === step);
        if (!pair) break;
        offset = rangeStart(pair.key) ?? offset;
        node = pair.value;
      } else if (isSeq(node) && typeof step === 'number') {
        const item = node.items[step];
        if (item === undefined) break;
        offset = rangeStart(item) ?? offset;
        node = item;
      } else {
        break;
      }
    }
    return this.lines.linePos(offset).line;
  }
}

/** `workers[0].capabilities[1].id` for `['workers', 0, 'capabilities', 1, 'id']`. */
export function fieldName(path: ConfigPath): string {
  return path
    .map((step, index) => (typeof step === 'number' ? `[${step}]` : index === 0 ? step : `.${step}`))
    .join('');
}

function rangeStart(node: unknown): number | undefined {
  return (node as Node | null)?.range?.[0];
}
