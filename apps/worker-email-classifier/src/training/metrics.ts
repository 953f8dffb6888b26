import type { TestMetrics } from '../model-card.js';

/** One message of the test split: its corpus group, its truth and the model's label. */
export interface Verdict {
  group: string;
  spam: boolean;
  labelledSpam: boolean;
}

const ratio = (part: number, whole: number): number =>
  whole === 0 ? 0 : Math.round((part / whole) * 1e4) / 1e4;

/** Accuracy, precision, recall and F1 of spam, the confusion matrix and the hard-ham false positives. */
export function testMetrics(verdicts: readonly Verdict[]): TestMetrics {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  const byGroup: TestMetrics['byGroup'] = {};
  for (const { group, spam, labelledSpam } of verdicts) {
    if (spam && labelledSpam) tp++;
    else if (!spam && labelledSpam) fp++;
    else if (!spam) tn++;
    else fn++;
    const counts = (byGroup[group] ??= { messages: 0, errors: 0 });
    counts.messages++;
    if (spam !== labelledSpam) counts.errors++;
  }
  const precision = tp / Math.max(1, tp + fp);
  const recall = tp / Math.max(1, tp + fn);
  const hard = Object.entries(byGroup)
    .filter(([group]) => group.startsWith('hard-ham'))
    .reduce((sum, [, c]) => ({ messages: sum.messages + c.messages, errors: sum.errors + c.errors }), {
      messages: 0,
      errors: 0,
    });
  return {
    messages: verdicts.length,
    accuracy: ratio(tp + tn, verdicts.length),
    precision: ratio(tp, tp + fp),
    recall: ratio(tp, tp + fn),
    f1:
      precision + recall === 0
        ? 0
        : Math.round(((2 * precision * recall) / (precision + recall)) * 1e4) / 1e4,
    confusion: { truePositives: tp, falsePositives: fp, trueNegatives: tn, falseNegatives: fn },
    hardHam: {
      messages: hard.messages,
      falsePositives: hard.errors,
      falsePositiveRate: ratio(hard.errors, hard.messages),
    },
    byGroup,
  };
}
