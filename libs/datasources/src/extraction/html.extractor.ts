import { Parser } from 'htmlparser2';
import type { TextSegment } from './extraction.types';

/** elements whose content is never readable text */
const SKIP = new Set([
  'script',
  'style',
  'noscript',
  'template',
  'svg',
  'math',
  'head',
  'iframe',
  'object',
  'canvas',
  'nav',
  'aside',
  'button',
  'select',
  'form',
]);
const BLOCK = new Set([
  'p',
  'div',
  'li',
  'ul',
  'ol',
  'tr',
  'table',
  'section',
  'article',
  'main',
  'header',
  'footer',
  'blockquote',
  'pre',
  'dd',
  'dt',
  'dl',
  'figure',
  'figcaption',
  'hr',
  'br',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'thead',
  'tbody',
  'caption',
  'address',
  'details',
  'summary',
]);
/** blocks separated by a blank line (paragraph boundary); the other blocks by a line break */
const PARAGRAPH = new Set([
  'p',
  'div',
  'section',
  'article',
  'main',
  'header',
  'footer',
  'blockquote',
  'pre',
  'table',
  'ul',
  'ol',
  'dl',
  'figure',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'details',
  'address',
]);
const VOID = new Set([
  'br',
  'hr',
  'img',
  'input',
  'meta',
  'link',
  'area',
  'base',
  'col',
  'embed',
  'source',
  'track',
  'wbr',
]);
const HEADING = /^h[1-6]$/;

/**
 * Readable text of an HTML document, one segment per heading section (the
 * heading is the segment's location and its first line). Scripts, styles,
 * navigation and forms are dropped; whitespace is collapsed except in `<pre>`.
 */
export function htmlToSegments(html: string): TextSegment[] {
  const segments: TextSegment[] = [];
  let heading: string | undefined;
  let buf = '';
  let skipDepth = 0;
  let preDepth = 0;
  let headingText: string | undefined;
  const stack: string[] = [];

  const flush = () => {
    const text = normalise(buf);
    if (text) segments.push({ text, location: heading ? { heading } : {} });
    buf = '';
  };
  const newline = (name: string) => {
    if (PARAGRAPH.has(name)) {
      buf = buf.replace(/[ \t]*\n?[ \t]*$/, '');
      if (buf) buf += '\n\n';
    } else if (!buf.endsWith('\n')) buf += '\n';
  };

  const parser = new Parser(
    {
      onopentag(name) {
        if (!VOID.has(name)) stack.push(name);
        if (skipDepth > 0 || SKIP.has(name)) {
          if (!VOID.has(name)) skipDepth++;
          return;
        }
        if (name === 'pre') preDepth++;
        if (HEADING.test(name)) {
          flush();
          headingText = '';
        }
        if (name === 'td' || name === 'th') buf += ' | ';
        else if (BLOCK.has(name)) newline(name);
        if (name === 'li') buf += '- ';
      },
      ontext(text) {
        if (skipDepth > 0) return;
        const t = preDepth > 0 ? text : text.replace(/\s+/g, ' ');
        buf += t;
        if (headingText !== undefined) headingText += t;
      },
      onclosetag(name, implied) {
        if (VOID.has(name)) {
          if (skipDepth === 0 && BLOCK.has(name)) newline(name);
          return;
        }
        // pop to the matching open tag (tolerates misnested markup)
        const at = stack.lastIndexOf(name);
        if (at >= 0) stack.length = at;
        if (skipDepth > 0) {
          skipDepth--;
          return;
        }
        void implied;
        if (name === 'pre') preDepth = Math.max(0, preDepth - 1);
        if (HEADING.test(name) && headingText !== undefined) {
          heading = headingText.replace(/\s+/g, ' ').trim() || heading;
          headingText = undefined;
        }
        if (BLOCK.has(name)) newline(name);
      },
    },
    { decodeEntities: true, lowerCaseTags: true },
  );
  parser.write(html);
  parser.end();
  flush();
  return segments;
}

function normalise(s: string): string {
  return s
    .split('\n')
    .map((l) => l.replace(/[ \t]+$/g, '').replace(/^ +/, ''))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
