/**
 * The self-contained report: figures inline (no external references), text escaped, tables and settings present.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildReport, escapeHtml } from '../../src/analysis/report.js';

test('buildReport inlines SVGs, escapes text and lists the settings', () => {
  const svg = '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="5" height="5"/></svg>';
  const html = buildReport({
    title: 'T <1>',
    settings: { preset: 'quick', note: 'a&b' },
    sections: [
      { title: 'Curves', text: 'x < y', svgs: [svg, svg], table: { header: ['k', 'acc'], rows: [['0', '0.98'], ['1', '0.90']] } },
      { title: 'Empty', svgs: [] },
    ],
  });
  assert.match(html, /^<!DOCTYPE html>/);
  assert.equal((html.match(/<svg /g) ?? []).length, 2);
  assert.doesNotMatch(html, /<\?xml/);
  assert.match(html, /<title>T &lt;1&gt;<\/title>/);
  assert.match(html, /<p>x &lt; y<\/p>/);
  assert.match(html, /<td>0\.98<\/td>/);
  assert.match(html, /&quot;note&quot;: &quot;a&amp;b&quot;/);
  assert.match(html, /href="#s1">Empty</);
  // Self-contained: nothing is loaded from elsewhere.
  assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)="http/);
});

test('escapeHtml escapes the five special characters that matter in text and attributes', () => {
  assert.equal(escapeHtml(`<a href="x">&</a>`), '&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;');
});
