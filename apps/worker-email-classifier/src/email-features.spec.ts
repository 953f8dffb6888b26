import { describe, expect, it } from '@jest/globals';
import { featuresOf, partsOfFields, wordsOf } from './email-features.js';
import { partsOfRaw } from './email-input.js';
import { FEATURE_BUCKETS, bucketOf, hashFeatures } from './feature-vector.js';

const MESSAGE = [
  'From: "Prize Desk" <win@lucky.example.biz>',
  'To: you@example.org',
  'Subject: WIN $1000 NOW',
  'X-Mailer: Mass Mailer 5.1',
  'X-Spam-Status: Yes, hits=12.3',
  'Content-Type: multipart/alternative; boundary=b',
  '',
  '--b',
  'Content-Type: text/plain',
  '',
  'Click here: http://lucky.example.biz/claim to claim your prize!',
  '--b',
  'Content-Type: text/html',
  '',
  '<table><font color=red>Click here</font></table>',
  '--b--',
  '',
].join('\r\n');

describe('featuresOf', () => {
  const features = featuresOf(partsOfRaw(Buffer.from(MESSAGE)));

  it('has the words and word pairs of the subject and body, digits folded', () => {
    expect(wordsOf('WIN $1000 NOW!')).toEqual(['win', '$', '0000', 'now', '!']);
    expect(features.get('subject:win')).toBe(1);
    expect(features.get('subject:$ 0000')).toBe(1);
    expect(features.get('body:click here')).toBe(1);
    expect(features.get('body:claim')).toBe(2);
  });

  it('has the sender, the link hosts, the headers and the shape of the message', () => {
    expect(features.get('from-domain:lucky.example.biz')).toBe(1);
    expect(features.get('from-tld:biz')).toBe(1);
    expect(features.get('from-name:prize')).toBe(1);
    expect(features.get('link-host:lucky.example.biz')).toBe(1);
    expect(features.get('header:x-mailer=mass')).toBe(1);
    expect(features.get('shape:subject in capitals')).toBe(1);
    expect(features.get('shape:html')).toBe(1);
  });

  it("leaves out the verdict a spam filter wrote on the way: that is its label, not the message's", () => {
    expect([...features.keys()].filter((name) => name.includes('x-spam'))).toEqual([]);
  });

  it('takes { subject, from, body } as well, without headers', () => {
    const parts = partsOfFields({ subject: 'Lunch', from: 'Ann <Ann@Example.com>', body: 'Noon?' });
    expect(parts).toEqual({
      subject: 'Lunch',
      fromAddress: 'ann@example.com',
      fromName: 'Ann',
      text: 'Noon?',
      attachments: 0,
    });
    expect([...featuresOf(parts).keys()].sort()).toEqual([
      'body:noon',
      'from-domain:example.com',
      'from-name:ann',
      'from-tld:com',
      'shape:body words ~2',
      'subject:lunch',
    ]);
  });
});

describe('hashFeatures', () => {
  it('hashes into sorted buckets with sublinear term frequencies and readable names', () => {
    const vector = hashFeatures(
      new Map([
        ['body:free', 3],
        ['subject:free', 1],
      ]),
    );
    expect([...vector.indices]).toEqual(
      [bucketOf('body:free'), bucketOf('subject:free')].sort((a, b) => a - b),
    );
    const at = vector.names.indexOf('body:free');
    expect(vector.tf[at]).toBeCloseTo(1 + Math.log(3), 6);
    for (const bucket of vector.indices) expect(bucket).toBeLessThan(FEATURE_BUCKETS);
  });

  it('is stable: a bucket is a function of the feature alone', () => {
    expect(bucketOf('body:free')).toBe(bucketOf('body:free'));
    expect(bucketOf('body:free')).not.toBe(bucketOf('subject:free'));
  });
});
