import { describe, expect, it } from '@jest/globals';
import { CLASSIFY_SENTIMENT } from '@crank/capabilities';
import { sentimentOf } from './sentiment.js';

describe('sentimentOf', () => {
  it.each([
    ['The food was great and the staff were lovely.', 'positive'],
    ['I love this phone, it is AMAZING!!!', 'positive'],
    ['The meeting is at 10 am in room 4.', 'neutral'],
    ['The parcel arrived on Tuesday.', 'neutral'],
    ['This is the worst service I have ever had.', 'negative'],
    ['The film was not good at all, a sad waste of time.', 'negative'],
  ])('%s -> %s', (text, label) => {
    const answer = sentimentOf(text);
    expect(answer.label).toBe(label);
    expect(CLASSIFY_SENTIMENT.validateOutput(answer)).toEqual([]);
  });

  it('reads negation and intensity: "not good" is negative, "very good" beats "good"', () => {
    expect(sentimentOf('The plan is not good.').label).toBe('negative');
    expect(sentimentOf('The plan is very good.').score).toBeGreaterThan(
      sentimentOf('The plan is good.').score,
    );
  });

  it('answers neutral, score 0, for an empty text', () => {
    expect(sentimentOf('')).toEqual({ label: 'neutral', score: 0, model: 'vader@1.1.3' });
  });
});
