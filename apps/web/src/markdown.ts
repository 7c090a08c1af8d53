import DOMPurify from 'dompurify';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import css from 'highlight.js/lib/languages/css';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import python from 'highlight.js/lib/languages/python';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import { Marked } from 'marked';

for (const [name, lang] of Object.entries({
  bash,
  css,
  javascript,
  json,
  python,
  sql,
  typescript,
  xml,
  yaml,
}))
  hljs.registerLanguage(name, lang);

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    // raw HTML in a model's answer is shown as text, never interpreted
    html: ({ text }) => escapeHtml(text),
    code: ({ text, lang }) => {
      const language = lang && hljs.getLanguage(lang) ? lang : undefined;
      const body = language
        ? hljs.highlight(text, { language, ignoreIllegals: true }).value
        : escapeHtml(text);
      return `<pre><code class="hljs${language ? ` language-${language}` : ''}">${body}</code></pre>`;
    },
  },
});

/**
 * Markdown to sanitised HTML: raw HTML escaped, code highlighted, the result
 * through DOMPurify (no scripts, handlers, styles or forms), links opened
 * safely, and `[n]` citations linked to the message's source list.
 */
export function renderMarkdown(text: string, citations: Set<number>, anchor: string): string {
  const html = marked.parse(text, { async: false });
  const frag = DOMPurify.sanitize(html, {
    RETURN_DOM_FRAGMENT: true,
    FORBID_ATTR: ['style'],
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select'],
  });
  for (const a of frag.querySelectorAll('a')) {
    a.setAttribute('rel', 'noopener noreferrer');
    a.setAttribute('target', '_blank');
  }
  if (citations.size > 0) linkCitations(frag, citations, anchor);
  const box = document.createElement('div');
  box.append(frag);
  return box.innerHTML;
}

function linkCitations(root: DocumentFragment, citations: Set<number>, anchor: string): void {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes: Text[] = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement?.closest('code, pre, a')) continue;
    if (/\[\d+\]/.test(n.textContent ?? '')) nodes.push(n as Text);
  }
  for (const node of nodes) {
    const parts = (node.textContent ?? '').split(/(\[\d+\])/);
    const out = document.createDocumentFragment();
    for (const part of parts) {
      const m = /^\[(\d+)\]$/.exec(part);
      const n = m ? Number(m[1]) : NaN;
      if (m && citations.has(n)) {
        const a = document.createElement('a');
        a.href = `#${anchor}-${n}`;
        a.className = 'citation';
        a.textContent = `[${n}]`;
        a.setAttribute('aria-label', `source ${n}`);
        out.append(a);
      } else out.append(part);
    }
    node.replaceWith(out);
  }
}
