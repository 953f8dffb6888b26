import type { ClassifySentimentOutput } from '@crank/capabilities';
import vader from 'vader-sentiment';

/** Name and version of the lexicon model, answered with every label. */
export const SENTIMENT_MODEL = 'vader@1.1.3';

/** VADER's own thresholds on its compound score (Hutto and Gilbert, 2014). */
const POSITIVE_FROM = 0.05;
const NEGATIVE_FROM = -0.05;

/**
 * The sentiment of a text by VADER, a lexicon of rated words with rules for negation ("not
 * good"), intensifiers ("very"), capitals, "but" and exclamation marks.
 */
export function sentimentOf(text: string): ClassifySentimentOutput {
  const { compound } = vader.SentimentIntensityAnalyzer.polarity_scores(text);
  const score = Math.round(compound * 1e4) / 1e4;
  return {
    label: score >= POSITIVE_FROM ? 'positive' : score <= NEGATIVE_FROM ? 'negative' : 'neutral',
    score,
    model: SENTIMENT_MODEL,
  };
}
