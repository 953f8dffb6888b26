// vader-sentiment ships no types; this is the part of its API the worker uses.
declare module 'vader-sentiment' {
  /** Shares of negative, neutral and positive words, and the normalised compound valence (-1 to 1). */
  interface PolarityScores {
    neg: number;
    neu: number;
    pos: number;
    compound: number;
  }
  const vader: {
    SentimentIntensityAnalyzer: { polarity_scores(text: string): PolarityScores };
  };
  export default vader;
}
