// WCAG 2.x contrast of the page's colours (web/space/style.css): the pairs named in its
// "contrast:" comments must reach 4.5:1 (text), those in "contrast3:" 3:1 (focus ring, borders).
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const css = readFileSync(fileURLToPath(new URL('../../web/space/style.css', import.meta.url)), 'utf8');

const vars = new Map([...css.matchAll(/--([a-z0-9-]+):\s*(#[0-9a-fA-F]{6})/g)].map((m) => [m[1], m[2]]));

function luminance(hex) {
  const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}
export function ratio(a, b) {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

test('the contrast function is right', () => {
  assert.equal(Math.round(ratio('#000000', '#ffffff')), 21);
  assert.equal(ratio('#777777', '#777777'), 1);
  assert.ok(Math.abs(ratio('#767676', '#ffffff') - 4.54) < 0.01);
});

test('every declared colour pair passes WCAG AA', () => {
  const pairs = [];
  for (const m of css.matchAll(/\/\* (contrast3?): ([^*]+)\*\//g)) {
    const min = m[1] === 'contrast3' ? 3 : 4.5;
    for (const p of m[2].split(/[,;]/)) {
      const [fg, bg] = p.trim().split(/\s+on\s+/);
      pairs.push([fg, bg, min]);
    }
  }
  assert.ok(pairs.length >= 15, `found ${pairs.length} pairs`);
  for (const [fg, bg, min] of pairs) {
    assert.ok(vars.has(fg) && vars.has(bg), `unknown colour in ${fg} on ${bg}`);
    const r = ratio(vars.get(fg), vars.get(bg));
    assert.ok(r >= min, `${fg} on ${bg}: ${r.toFixed(2)} < ${min}`);
  }
});

test('no inline-style or unsafe constructs the CSP would block', () => {
  const html = readFileSync(fileURLToPath(new URL('../../web/space/index.html', import.meta.url)), 'utf8');
  assert.doesNotMatch(html, /\sstyle=/);
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)/); // no inline script
  assert.doesNotMatch(html, /\son[a-z]+=/); // no inline handlers
  assert.doesNotMatch(html, /https?:\/\//); // no CDN
  for (const f of ['app.js', 'util.js', 'verify.js', 'protobuf.js', 'i18n.js']) {
    const js = readFileSync(fileURLToPath(new URL(`../../web/space/${f}`, import.meta.url)), 'utf8');
    assert.doesNotMatch(js, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|\.style\b|setAttribute\('style'/, f);
  }
});
