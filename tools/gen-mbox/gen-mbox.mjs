#!/usr/bin/env node
// A seeded generator of realistic mboxes (mboxrd) of a given size, for tests and benchmarks: plain
// and multipart messages (alternative, mixed, nested, forwarded message/rfc822), attachments in
// base64, bodies in quoted-printable and 8bit, non-ASCII headers (RFC 2047 B and Q, RFC 2231 file
// names), Latin-1 bodies, and body lines starting with "From " (quoted ">From ") or ">From "
// (quoted ">>From "). The same seed and options give the same bytes. Optionally: CRLF line
// breaks, one big message, garbage (text before the first message, and "From " lines with no
// message after them), and no line break at the very end.
//   node tools/gen-mbox/gen-mbox.mjs --size 200MB --out /tmp/box.mbox [--seed 1] [--crlf]
//     [--big-message-mb 100] [--garbage] [--no-final-newline]
// prints the manifest (what it wrote) as JSON; as a module: generateMbox(options) yields Buffers,
// writeMbox(path, options) writes a file; both end with the same manifest.
import { open } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const DAY = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTH = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const FIRST = [
  'Ann',
  'Bob',
  'Carol',
  'Dave',
  'Erin',
  'Frank',
  'Grace',
  'Heidi',
  'Ivan',
  'Judy',
  'Zoë',
  'Jürgen',
  'Łukasz',
  'Søren',
  'Ana María',
  '美咲',
  'Дмитрий',
  'Nguyễn',
];
const LAST = [
  'Example',
  'Smith',
  'Müller',
  'García',
  'Rossi',
  'Dubois',
  'Nowak',
  'Tanaka',
  "O'Brien",
  'Johansson',
];
const WORDS = (
  'the quarterly report meeting budget lunch project deadline review draft invoice travel plan ' +
  'update please find attached thanks regards question answer schedule call tomorrow office ' +
  'customer order shipping delay release notes server outage weekend team dinner café menü ' +
  'naïve façade résumé déjà vu coöperate über straße ñandú'
).split(' ');
const SUBJECTS = ['Re: ', 'Fwd: ', 'RE: ', '', '', '', '[list] '];
const ATTACHMENTS = [
  ['application/pdf', 'pdf'],
  ['image/png', 'png'],
  ['image/jpeg', 'jpg'],
  ['application/zip', 'zip'],
  ['application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'docx'],
  ['text/csv', 'csv'],
];
/** Random bytes attachments are cut from: generating each byte would cost more than the parse. */
const POOL_BYTES = 4 * 1024 * 1024;

/** mulberry32: a small, fast, seeded PRNG; answers floats in [0, 1). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Parses `200MB`, `2GB`, `1.5GiB`, `4096` into bytes. */
export function parseSize(text) {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$/i.exec(String(text).trim());
  if (!match)
    throw new Error(`size: must be a number of bytes with an optional KB, MB or GB (got "${text}")`);
  const unit = (match[2] ?? 'b').toLowerCase();
  const factor = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 }[unit];
  return Math.round(Number(match[1]) * factor);
}

/**
 * Yields the mbox as Buffers of about 1 MB, then returns the manifest: `{ bytes, messages,
 * attachments, garbage: { segments, bytes }, senders: { domain: count }, quotedFromLines,
 * bigMessage?: { index, offset, size } }`.
 */
export async function* generateMbox(options = {}) {
  const size = options.size ?? 10 * 1024 * 1024;
  const random = prng(options.seed ?? 1);
  const eol = options.crlf ? '\r\n' : '\n';
  const pick = (list) => list[Math.floor(random() * list.length)];
  const int = (min, max) => min + Math.floor(random() * (max - min + 1));
  const pool = Buffer.allocUnsafe(POOL_BYTES);
  for (let i = 0; i < POOL_BYTES; i += 4) pool.writeUInt32LE(Math.floor(random() * 2 ** 32), i);
  // Sender domains follow a Zipf-like law: a few domains send most of the mail.
  const domains = Array.from({ length: 200 }, (_, i) =>
    i < 5
      ? ['example.com', 'example.org', 'mail.example.net', 'lists.example.io', 'corp.example'][i]
      : `d${i}.example`,
  );
  const domainOf = () => domains[Math.min(domains.length - 1, Math.floor(domains.length * random() ** 3))];

  const manifest = {
    bytes: 0,
    messages: 0,
    attachments: 0,
    garbage: { segments: 0, bytes: 0 },
    senders: {},
    quotedFromLines: 0,
  };
  const bigAt = options.bigMessageMb ? Math.max(1, Math.floor(size / 2)) : undefined;
  let time = Date.UTC(2019, 0, 1);
  let parts = [];
  let pending = 0;
  const emit = (text) => {
    const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    parts.push(bytes);
    pending += bytes.length;
    manifest.bytes += bytes.length;
  };
  const lines = (list) => list.join(eol);
  const sentence = () => {
    const words = Array.from({ length: int(4, 16) }, () => pick(WORDS));
    words[0] = words[0][0].toUpperCase() + words[0].slice(1);
    return `${words.join(' ')}.`;
  };
  const bodyText = (paragraphs) => {
    const out = [];
    for (let p = 0; p < paragraphs; p++) {
      for (let l = int(1, 5); l > 0; l--) {
        const roll = random();
        if (roll < 0.03)
          out.push(`From ${sentence()}`); // quoted ">From " when written
        else if (roll < 0.04)
          out.push(`>From the archive: ${sentence()}`); // quoted ">>From "
        else if (roll < 0.1) out.push(`> ${sentence()}`);
        else out.push(sentence());
      }
      out.push('');
    }
    return out;
  };
  const encodeWord = (text) =>
    /^[\x20-\x7e]*$/.test(text)
      ? text
      : random() < 0.5
        ? `=?UTF-8?B?${Buffer.from(text).toString('base64')}?=`
        : `=?UTF-8?Q?${[...Buffer.from(text)].map((b) => (b === 0x20 ? '_' : b < 0x80 && /[A-Za-z0-9]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('')}?=`;
  const qp = (text) =>
    lines(
      text.split(eol).flatMap((line) => {
        let encoded = [...Buffer.from(line)]
          .map((b) =>
            b === 0x3d || b > 0x7e
              ? `=${b.toString(16).toUpperCase().padStart(2, '0')}`
              : String.fromCharCode(b),
          )
          .join('');
        if (/[ \t]$/.test(encoded)) encoded = `${encoded.slice(0, -1)}=20`;
        const out = [];
        while (encoded.length > 76) {
          let cut = 75;
          while (encoded[cut - 1] === '=' || encoded[cut - 2] === '=') cut--;
          out.push(`${encoded.slice(0, cut)}=`);
          encoded = encoded.slice(cut);
        }
        out.push(encoded);
        return out;
      }),
    );
  const base64Lines = (bytes) => {
    const text = bytes.toString('base64');
    const out = [];
    for (let i = 0; i < text.length; i += 76) out.push(text.slice(i, i + 76));
    return out.join(eol);
  };
  const attachmentBytes = (length) => {
    const out = Buffer.allocUnsafe(length);
    for (let at = 0; at < length;) {
      const from = int(0, POOL_BYTES - 1);
      const take = Math.min(length - at, POOL_BYTES - from);
      pool.copy(out, at, from, from + take);
      at += take;
    }
    return out;
  };
  const attachment = (boundary, maxBytes) => {
    const [type, ext] = pick(ATTACHMENTS);
    // Sizes spread over 1 KB to maxBytes, most of them small.
    const length = Math.floor(1024 * (maxBytes / 1024) ** (random() ** 2));
    const name = `${pick(WORDS)}-${int(1, 999)}.${ext}`;
    const disposition = /^[\x20-\x7e]*$/.test(name)
      ? `attachment; filename="${name}"`
      : `attachment; filename*=UTF-8''${encodeURIComponent(name)}`;
    manifest.attachments++;
    return lines([
      `--${boundary}`,
      `Content-Type: ${type}; name="${name.replace(/[^\x20-\x7e]/g, '_')}"`,
      `Content-Disposition: ${disposition}`,
      'Content-Transfer-Encoding: base64',
      '',
      base64Lines(attachmentBytes(length)),
    ]);
  };

  const message = (index, bigBytes) => {
    time += int(30_000, 6 * 3_600_000);
    const date = new Date(time);
    const domain = domainOf();
    manifest.senders[domain] = (manifest.senders[domain] ?? 0) + 1;
    const user = `${
      pick(FIRST)
        .toLowerCase()
        .replace(/[^a-z]/g, '') || 'user'
    }${int(1, 99)}`;
    const name = `${pick(FIRST)} ${pick(LAST)}`;
    const subject = `${pick(SUBJECTS)}${sentence().slice(0, -1)}`;
    const head = [
      `Received: from mx${int(1, 9)}.${domain} by mail.example.org; ${date.toUTCString()}`,
      `From: ${random() < 0.3 ? `"${name}"` : encodeWord(name)} <${user}@${domain}>`,
      `To: ${Array.from(
        { length: int(1, 3) },
        () =>
          `${
            pick(FIRST)
              .toLowerCase()
              .replace(/[^a-z]/g, '') || 'x'
          }@example.org`,
      ).join(', ')}`,
      ...(random() < 0.3 ? [`Cc: ${encodeWord(pick(FIRST))} <cc${int(1, 50)}@example.net>`] : []),
      `Subject: ${encodeWord(subject)}`,
      `Date: ${DAY[date.getUTCDay()]}, ${date.getUTCDate()} ${MONTH[date.getUTCMonth()]} ${date.getUTCFullYear()} ${date.toISOString().slice(11, 19)} +0000`,
      `Message-ID: <${index}.${int(1e6, 9e6)}@${domain}>`,
      'MIME-Version: 1.0',
    ];
    const text = lines(bodyText(int(1, 6)));
    const roll = bigBytes ? 1 : random();
    let body;
    if (roll < 0.45) {
      body = lines([
        ...head,
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: 8bit',
        '',
        text,
      ]);
    } else if (roll < 0.6) {
      const boundary = `alt-${index}-${int(1e5, 9e5)}`;
      body = lines([
        ...head,
        `Content-Type: multipart/alternative; boundary="${boundary}"`,
        '',
        `--${boundary}`,
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: quoted-printable',
        '',
        qp(text),
        `--${boundary}`,
        'Content-Type: text/html; charset=utf-8',
        'Content-Transfer-Encoding: quoted-printable',
        '',
        qp(`<html><body><p>${text.split(eol).join('</p><p>')}</p></body></html>`),
        `--${boundary}--`,
      ]);
    } else if (roll < 0.68) {
      body = lines([
        ...head,
        'Content-Type: text/plain; charset=iso-8859-1',
        'Content-Transfer-Encoding: quoted-printable',
        '',
      ]);
      body = Buffer.concat([
        Buffer.from(body + eol),
        Buffer.from(
          qp(text.replace(/[^\x00-\xff]/g, '?')).replace(/=([0-9A-F]{2})=([0-9A-F]{2})/g, (m, a, b) => {
            // UTF-8 pairs of Latin-1 letters back to one Latin-1 byte.
            const code = Buffer.from([parseInt(a, 16), parseInt(b, 16)]).toString('utf8');
            return code.length === 1 && code.charCodeAt(0) <= 0xff
              ? `=${code.charCodeAt(0).toString(16).toUpperCase()}`
              : m;
          }),
          'latin1',
        ),
      ]);
    } else if (roll < 0.74) {
      const outer = `fwd-${index}`;
      manifest.attachments++; // the forwarded message/rfc822 part
      body = lines([
        ...head,
        `Content-Type: multipart/mixed; boundary="${outer}"`,
        '',
        `--${outer}`,
        'Content-Type: text/plain; charset=utf-8',
        '',
        'Forwarding the message below.',
        `--${outer}`,
        'Content-Type: message/rfc822',
        'Content-Disposition: inline',
        '',
        `From: old@${domain}`,
        `Subject: ${encodeWord(sentence())}`,
        '',
        text,
        `--${outer}--`,
      ]);
    } else {
      const boundary = `mixed-${index}-${int(1e5, 9e5)}`;
      const count = bigBytes ? 1 : int(1, 3);
      const files = [];
      for (let i = 0; i < count; i++)
        files.push(bigBytes ? bigAttachment(boundary, bigBytes) : attachment(boundary, 2 * 1024 * 1024));
      body = lines([
        ...head,
        `Content-Type: multipart/mixed; boundary="${boundary}"`,
        '',
        'This is a multi-part message in MIME format.',
        `--${boundary}`,
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: 8bit',
        '',
        text,
        ...files,
        `--${boundary}--`,
      ]);
    }
    // mboxrd: every line of the message that starts with ">*From " gets one more ">", after
    // encoding (a quoted-printable soft break can start a line with "From " too).
    const quote = (text) =>
      text.replace(/^>*From /gm, (line) => {
        manifest.quotedFromLines++;
        return `>${line}`;
      });
    body = Buffer.isBuffer(body) ? Buffer.from(quote(body.toString('latin1')), 'latin1') : quote(body);
    const envelope = `From ${user}@${domain} ${DAY[date.getUTCDay()]} ${MONTH[date.getUTCMonth()]} ${String(date.getUTCDate()).padStart(2, ' ')} ${date.toISOString().slice(11, 19)} ${date.getUTCFullYear()}${eol}`;
    return [envelope, body, `${eol}${eol}`];
  };
  const bigAttachment = (boundary, bytes) => {
    manifest.attachments++;
    return lines([
      `--${boundary}`,
      'Content-Type: video/mp4; name="big.mp4"',
      'Content-Disposition: attachment; filename="big.mp4"',
      'Content-Transfer-Encoding: base64',
      '',
      base64Lines(attachmentBytes(bytes)),
    ]);
  };

  if (options.garbage) {
    const junk = `This is not a message: the mailbox starts with text that an export left.${eol}${eol}`;
    emit(junk);
    manifest.garbage.segments++;
    manifest.garbage.bytes += junk.length;
  }
  for (let index = 0; manifest.bytes < size; index++) {
    const big = bigAt !== undefined && manifest.bytes >= bigAt && manifest.bigMessage === undefined;
    const offset = manifest.bytes;
    const pieces = message(index, big ? options.bigMessageMb * 1024 * 1024 : 0);
    for (const piece of pieces) emit(piece);
    if (big) manifest.bigMessage = { index: manifest.messages, offset, size: manifest.bytes - offset };
    manifest.messages++;
    if (options.garbage && random() < 0.002) {
      const junk = `From MAILER-DAEMON Mon Jan  1 00:00:00 2024${eol}\x00\x01\x02 binary junk, no header${eol}${eol}`;
      emit(junk);
      manifest.garbage.segments++;
      manifest.garbage.bytes += Buffer.byteLength(junk);
    }
    if (pending >= 1024 * 1024) {
      yield Buffer.concat(parts, pending);
      parts = [];
      pending = 0;
    }
  }
  if (options.noFinalNewline && pending >= 2 * eol.length) {
    // The last message loses its blank separator line and its final line break.
    const last = Buffer.concat(parts, pending);
    parts = [last.subarray(0, last.length - 2 * eol.length)];
    pending = parts[0].length;
    manifest.bytes -= 2 * eol.length;
  }
  if (pending > 0) yield Buffer.concat(parts, pending);
  return manifest;
}

/** Writes the mbox to `path`; answers the manifest. */
export async function writeMbox(path, options = {}) {
  const file = await open(path, 'w');
  try {
    const generator = generateMbox(options);
    for (;;) {
      const next = await generator.next();
      if (next.done) return next.value;
      await file.write(next.value);
    }
  } finally {
    await file.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: '10MB' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string' },
      crlf: { type: 'boolean', default: false },
      'big-message-mb': { type: 'string' },
      garbage: { type: 'boolean', default: false },
      'no-final-newline': { type: 'boolean', default: false },
    },
  });
  if (!values.out) {
    console.error(
      'usage: node tools/gen-mbox/gen-mbox.mjs --size 200MB --out box.mbox [--seed 1] [--crlf] [--big-message-mb 100] [--garbage] [--no-final-newline]',
    );
    process.exit(2);
  }
  const manifest = await writeMbox(values.out, {
    size: parseSize(values.size),
    seed: Number(values.seed),
    crlf: values.crlf,
    bigMessageMb: values['big-message-mb'] === undefined ? undefined : Number(values['big-message-mb']),
    garbage: values.garbage,
    noFinalNewline: values['no-final-newline'],
  });
  console.log(JSON.stringify(manifest));
}
