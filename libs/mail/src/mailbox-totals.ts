import type { ParseMboxMessageRecord, ParseMboxTotals } from '@crank/capabilities';
import { domainOf } from './message-fields.js';

/** Domains reported in `topSenderDomains`. */
const TOP_DOMAINS = 10;
/** Domains counted exactly; past twice as many, the rarest are forgotten (bounded memory). */
const DOMAINS_KEPT = 1000;

/**
 * The running totals of an mbox stream, in bounded memory: counts, the date range, and the most
 * frequent sender domains. Past {@link DOMAINS_KEPT} distinct domains the rarest are dropped
 * (keeping the top {@link DOMAINS_KEPT}), so the counts reported become lower bounds and the
 * totals say so: a mailbox of spam from a million random domains costs a few hundred KB.
 */
export class MailboxTotals {
  private messages = 0;
  private malformed = 0;
  private attachments = 0;
  private garbageSegments = 0;
  private garbageBytes = 0;
  private readonly domains = new Map<string, number>();
  private approximate = false;
  private first: string | undefined;
  private last: string | undefined;

  /** Counts one message. */
  addMessage(record: ParseMboxMessageRecord): void {
    this.messages++;
    this.attachments += record.attachments.length;
    if (record.warnings.length > 0) this.malformed++;
    if (record.date !== undefined) {
      // RFC 3339 strings of toISOString() order as their dates do.
      if (this.first === undefined || record.date < this.first) this.first = record.date;
      if (this.last === undefined || record.date > this.last) this.last = record.date;
    }
    const domain = record.from ? domainOf(record.from.address) : undefined;
    if (domain !== undefined) this.countDomain(domain.slice(0, 998));
  }

  /** Counts bytes that are no message. */
  addGarbage(size: number): void {
    this.garbageSegments++;
    this.garbageBytes += size;
  }

  /** The totals: `bytes` read, and whether the whole mbox was. */
  totals(bytes: number, complete: boolean): ParseMboxTotals {
    const topSenderDomains = [...this.domains]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, TOP_DOMAINS)
      .map(([domain, count]) => ({ domain, count }));
    const totals: ParseMboxTotals = {
      messages: this.messages,
      bytes,
      malformed: this.malformed,
      attachments: this.attachments,
      garbage: { segments: this.garbageSegments, bytes: this.garbageBytes },
      topSenderDomains,
      topSenderDomainsApproximate: this.approximate,
      complete,
    };
    if (this.first !== undefined && this.last !== undefined) {
      totals.dateRange = { first: this.first, last: this.last };
    }
    return totals;
  }

  private countDomain(domain: string): void {
    this.domains.set(domain, (this.domains.get(domain) ?? 0) + 1);
    if (this.domains.size <= 2 * DOMAINS_KEPT) return;
    const kept = [...this.domains].sort((a, b) => b[1] - a[1]).slice(0, DOMAINS_KEPT);
    this.domains.clear();
    for (const [name, count] of kept) this.domains.set(name, count);
    this.approximate = true;
  }
}
