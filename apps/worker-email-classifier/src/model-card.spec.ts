import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { DEFAULT_MODEL_DIR } from './classifier-config.js';
import type { ModelCard } from './model-card.js';

// The train target runs before the tests (project.json), so the card is the one of this code.
const card = JSON.parse(readFileSync(join(DEFAULT_MODEL_DIR, 'model-card.json'), 'utf8')) as ModelCard;

describe('the trained spam model, on the test split it never saw', () => {
  it('meets the targets: spam F1 at least 0.95, hard-ham false positives at most 5 %', () => {
    expect(card.test.f1).toBeGreaterThanOrEqual(0.95);
    expect(card.test.hardHam.falsePositiveRate).toBeLessThanOrEqual(0.05);
  });

  it('was measured on the whole test split, and the split is the rule said', () => {
    const { truePositives, falsePositives, trueNegatives, falseNegatives } = card.test.confusion;
    expect(truePositives + falsePositives + trueNegatives + falseNegatives).toBe(card.split.test);
    expect(card.split.train + card.split.test).toBe(card.data.messages);
    expect(card.data.messages).toBe(6046);
    expect(card.split.test / card.data.messages).toBeGreaterThan(0.18);
    expect(card.split.test / card.data.messages).toBeLessThan(0.22);
    expect(card.test.hardHam.messages).toBeGreaterThan(0);
  });

  it('names the graph it was written with', () => {
    const graph = readFileSync(join(DEFAULT_MODEL_DIR, card.modelFile));
    expect(createHash('sha256').update(graph).digest('hex')).toBe(card.modelSha256);
    expect(card.model).toBe(`spam-logreg@1.0.0+${card.modelSha256.slice(0, 12)}`);
  });
});
