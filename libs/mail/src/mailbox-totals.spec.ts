import { describe, expect, it } from '@jest/globals';
import type { ParseMboxMessageRecord } from '@crank/capabilities';
import { MailboxTotals } from './mailbox-totals.js';

const record = (address: string, date?: string, warnings = 0): ParseMboxMessageRecord => ({
  type: 'message',
  index: 0,
  offset: 0,
  size: 1,
  from: { address },
  to: [],
  cc: [],
  ...(date ? { date } : {}),
  attachments: [],
  warnings: Array.from({ length: warnings }, () => ({ code: 'bad-date', message: 'x' })),
});

describe('MailboxTotals', () => {
  it('counts messages, malformed ones, garbage, the date range and the top sender domains', () => {
    const totals = new MailboxTotals();
    totals.addMessage(record('a@B.example', '2024-05-01T00:00:00.000Z'));
    totals.addMessage(record('c@b.example', '2021-01-01T00:00:00.000Z', 2));
    totals.addMessage(record('d@a.example'));
    totals.addGarbage(10);
    expect(totals.totals(99, true)).toEqual({
      messages: 3,
      bytes: 99,
      malformed: 1,
      attachments: 0,
      garbage: { segments: 1, bytes: 10 },
      topSenderDomains: [
        { domain: 'b.example', count: 2 },
        { domain: 'a.example', count: 1 },
      ],
      topSenderDomainsApproximate: false,
      dateRange: { first: '2021-01-01T00:00:00.000Z', last: '2024-05-01T00:00:00.000Z' },
      complete: true,
    });
  });

  it('keeps its domain counts bounded and says when they became lower bounds', () => {
    const totals = new MailboxTotals();
    for (let i = 0; i < 50; i++) totals.addMessage(record('x@frequent.example'));
    for (let i = 0; i < 5000; i++) totals.addMessage(record(`x@rare${i}.example`));
    const result = totals.totals(0, true);
    expect(result.topSenderDomains[0]).toEqual({ domain: 'frequent.example', count: 50 });
    expect(result.topSenderDomains).toHaveLength(10);
    expect(result.topSenderDomainsApproximate).toBe(true);
  });
});
