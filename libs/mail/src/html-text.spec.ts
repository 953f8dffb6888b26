import { describe, expect, it } from '@jest/globals';
import { htmlToText } from './html-text.js';

describe('htmlToText', () => {
  it('keeps the text, drops scripts, styles and comments, and breaks lines at blocks', () => {
    const html =
      '<html><head><title>T</title><style>p { color: red }</style></head><body>' +
      '<p>Hello&nbsp;&amp; <b>welcome</b></p><!-- hidden --><script>alert(1)</script>' +
      '<div>Price: &euro;5 &#x263A; &#9731;</div>line<br>next</body></html>';
    expect(htmlToText(html)).toBe('Hello & welcome\nPrice: €5 ☺ ☃\nline\nnext');
  });

  it('survives broken HTML in one pass', () => {
    expect(htmlToText('a <b unclosed')).toBe('a');
    expect(htmlToText('<script>never closed')).toBe('');
    const hostile = '<script>'.repeat(20_000) + 'x';
    expect(htmlToText(hostile)).toBe('');
    expect(htmlToText('&bogus; &#xD800;')).toBe('&bogus; &#xD800;');
  });
});
