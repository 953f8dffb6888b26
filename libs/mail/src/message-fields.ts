import type { EmailAddress } from '@crank/capabilities';
import { parseAddressHeader } from 'mailparser';

/** RFC 5322 caps a line at 998 characters: the longest single value a summary reports. */
export const HEADER_MAX = 998;
/** Most addresses reported of one header. */
export const ADDRESSES_MAX = 1000;

/** A bare `local@domain` of the characters most addresses use. */
const BARE = /^\s*([A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+)\s*$/;
/** `Plain Name <local@domain>` or `"Plain Name" <local@domain>`: no encoded word, no escape. */
const NAMED = /^\s*(?:"([^"\\=]*)"|([^"<>,;:@\\=()[\]]*?))\s*<([A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+)>\s*$/;

/**
 * The mailboxes of an address header (`From`, `To`, `Cc`), groups flattened, in order; entries
 * without an address (an empty group, a bare name) are left out, and names and addresses are cut
 * to {@link HEADER_MAX}. `raw` is the header value with its encoded words not yet decoded: names
 * are decoded after the address syntax is read, so that a name that decodes to `a@b, c@d` stays
 * a name. The two commonest forms are read here; every other goes to mailparser's parser.
 */
export function parseAddresses(raw: string): EmailAddress[] {
  const bare = BARE.exec(raw);
  if (bare && !raw.includes('xn--')) return [{ address: bare[1] as string }];
  const named = NAMED.exec(raw);
  if (named && !raw.includes('xn--')) {
    const name = (named[1] ?? named[2] ?? '').trim();
    const address = named[3] as string;
    return [name === '' ? { address } : { name: cut(name), address }];
  }
  const addresses: EmailAddress[] = [];
  for (const entry of parseAddressHeader(raw, { flatten: true }).value) {
    if (!entry.address) continue;
    const name = entry.name.trim();
    addresses.push(
      name === '' ? { address: cut(entry.address) } : { name: cut(name), address: cut(entry.address) },
    );
    if (addresses.length === ADDRESSES_MAX) break;
  }
  return addresses;
}

/** The lower-case domain of an address, or undefined when it has none. */
export function domainOf(address: string): string | undefined {
  const at = address.lastIndexOf('@');
  const domain =
    at < 0
      ? ''
      : address
          .slice(at + 1)
          .trim()
          .toLowerCase();
  return domain === '' ? undefined : domain;
}

/**
 * A `Date` header as an RFC 3339 date-time (UTC), or undefined when it does not parse or names a
 * year outside 1 to 9999. Comments (`(PST)`) are dropped first.
 */
export function parseMailDate(value: string): string | undefined {
  const cleaned = value.replace(/\([^()]*\)/g, ' ').trim();
  if (cleaned === '') return undefined;
  const ms = Date.parse(cleaned);
  if (Number.isNaN(ms)) return undefined;
  const date = new Date(ms);
  const year = date.getUTCFullYear();
  return year >= 1 && year <= 9999 ? date.toISOString() : undefined;
}

/** A `Message-ID` without its angle brackets (the first id when there are several). */
export function parseMessageId(value: string): string | undefined {
  const bracketed = /<([^<>]+)>/.exec(value);
  const id = (bracketed ? (bracketed[1] as string) : value).trim();
  return id === '' ? undefined : cut(id);
}

function cut(text: string): string {
  return text.length > HEADER_MAX ? text.slice(0, HEADER_MAX) : text;
}
