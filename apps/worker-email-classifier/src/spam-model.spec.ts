import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { DEFAULT_MODEL_DIR } from './classifier-config.js';
import type { ModelCard } from './model-card.js';
import { ModelLoadError, SpamModel } from './spam-model.js';

describe('SpamModel.load', () => {
  let dir: string;
  const card = (): ModelCard => JSON.parse(readFileSync(join(dir, 'model-card.json'), 'utf8')) as ModelCard;
  const writeCard = (value: ModelCard): void =>
    writeFileSync(join(dir, 'model-card.json'), JSON.stringify(value));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'crank-spam-model-'));
    cpSync(DEFAULT_MODEL_DIR, dir, { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a directory without a card, naming the file and the fix', async () => {
    rmSync(join(dir, 'model-card.json'));
    await expect(SpamModel.load(dir)).rejects.toThrow(ModelLoadError);
    await expect(SpamModel.load(dir)).rejects.toThrow(
      /model-card\.json: cannot be read .*run the train target/,
    );
  });

  it('refuses a model of another feature set: its weights would mean other features', async () => {
    writeCard({ ...card(), featureSet: { version: 0, buckets: 1024, hashSeed: 1 } });
    await expect(SpamModel.load(dir)).rejects.toThrow(/featureSet .* is not this code's .*; train again/);
  });

  it('refuses a graph that is not the one its card names', async () => {
    writeCard({ ...card(), modelSha256: '0'.repeat(64) });
    await expect(SpamModel.load(dir)).rejects.toThrow(
      /model\.onnx: sha256 [0-9a-f]{64} is not the card's 0{64}/,
    );
  });
});
