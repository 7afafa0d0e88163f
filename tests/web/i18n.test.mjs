// The page's dictionary (web/space/i18n.js): every key in kk, ru and en, same placeholders, real
// Cyrillic in kk and ru, and every key the page asks for exists.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { DICT, LANGS, DEFAULT_LANG, KINDS, t, tCode } from '../../web/space/i18n.js';
import { CHECK, STATE, ZONE_NAMES, KIND_NAMES } from '../../web/space/verify.js';

const web = (f) => readFileSync(fileURLToPath(new URL(`../../web/space/${f}`, import.meta.url)), 'utf8');
const placeholders = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('kk is the default and the three languages exist', () => {
  assert.equal(DEFAULT_LANG, 'kk');
  assert.deepEqual(LANGS, ['kk', 'ru', 'en']);
  assert.deepEqual(Object.keys(DICT).sort(), ['en', 'kk', 'ru']);
});

test('every key in all three languages, non-empty, with the same placeholders', () => {
  const all = new Set(LANGS.flatMap((l) => Object.keys(DICT[l])));
  for (const key of all) {
    for (const l of LANGS) {
      assert.equal(typeof DICT[l][key], 'string', `${l}: ${key} missing`);
      assert.ok(DICT[l][key].trim().length > 0, `${l}: ${key} empty`);
      assert.deepEqual(placeholders(DICT[l][key]), placeholders(DICT.en[key]), `${l}: ${key} placeholders`);
    }
  }
});

test('Kazakh and Russian are Cyrillic, Kazakh uses Kazakh letters; no stray Latin words', () => {
  // Latin allowed only in these technical tokens.
  const allowed = /\b(CSV|SHA-256|HTTPS|HTTP|KYC|Qaqpa|qaqpa|journal|verify|v1|keys)\b/g;
  for (const l of ['kk', 'ru']) {
    for (const [key, s] of Object.entries(DICT[l])) {
      const rest = s.replace(allowed, '').replace(/\{\w+\}/g, '');
      assert.doesNotMatch(rest, /[A-Za-z]/, `${l}: ${key} has Latin letters: ${s}`);
      assert.match(s, /[А-Яа-яЁёӘәҒғҚқҢңӨөҰұҮүҺһІі]/, `${l}: ${key} has no Cyrillic`);
    }
  }
  const kk = Object.values(DICT.kk).join(' ');
  assert.match(kk, /[ӘәҒғҚқҢңӨөҰұҮүІі]/);
  const ru = Object.values(DICT.ru).join(' ');
  assert.doesNotMatch(ru, /[ӘәҒғҚқҢңӨөҰұҮүІі]/);
});

test('names for every zone, kind, status, badge state and check', () => {
  const statuses = ['OK', 'ACCEPTED', 'VALIDATION_FAILED', 'AUTH_FAILED', 'SIGNATURE_INVALID',
    'ACCESS_DENIED', 'CONSENT_REQUIRED', 'SERVICE_NOT_FOUND', 'DUPLICATE', 'RATE_LIMITED',
    'PROVIDER_ERROR', 'PROVIDER_UNAVAILABLE', 'PROVIDER_TIMEOUT', 'INTERNAL'];
  const keys = [
    ...ZONE_NAMES.slice(1).map((z) => `zone.${z}`),
    ...KIND_NAMES.slice(1).map((k) => `kind.${k}`),
    ...statuses.map((s) => `status.${s}`),
    ...Object.values(STATE).flatMap((s) => [`badge.${s}`, `badge.title.${s}`]),
    ...Object.values(CHECK).map((c) => `check.${c}`),
    'check.proof',
    ...['ACTIVE', 'EXPIRED', 'REVOKED'].map((s) => `consents.state.${s}`),
  ];
  for (const key of keys) for (const l of LANGS) assert.ok(DICT[l][key], `${l}: ${key}`);
  assert.deepEqual(KINDS, KIND_NAMES.slice(1));
});

test('every key the page uses exists', () => {
  const html = web('index.html');
  const js = web('app.js');
  const used = new Set([
    ...[...html.matchAll(/data-i18n(?:-aria-label)?="([^"]+)"/g)].map((m) => m[1]),
    ...[...js.matchAll(/\btr\('([a-zA-Z.]+)'/g)].map((m) => m[1]),
    ...[...js.matchAll(/\bt\(lang, '([a-zA-Z.]+)'/g)].map((m) => m[1]),
    ...[...js.matchAll(/\[\s*'([a-zA-Z]+\.[a-zA-Z.]+)'/g)].map((m) => m[1]), // showStatus([key, params])
  ]);
  assert.ok(used.size > 40, `found ${used.size} keys`);
  for (const key of used) assert.ok(DICT.kk[key], `missing ${key}`);
});

test('t and tCode', () => {
  assert.equal(t('en', 'paging.info', { n: 2, count: 20 }), 'Page 2 · 20 events');
  assert.equal(t('ru', 'paging.info', { n: 2, count: 20 }), 'Страница 2 · событий: 20');
  assert.equal(t('xx', 'badge.verified'), DICT.kk['badge.verified']);
  assert.equal(t('en', 'no.such.key'), 'no.such.key');
  assert.equal(tCode('en', 'status', 'CONSENT_REQUIRED'), 'Refused: no consent');
  assert.equal(tCode('en', 'status', 'SOMETHING_NEW'), 'SOMETHING_NEW');
  assert.equal(tCode('en', 'zone', 9), '9');
});

test('each badge title starts with its visible label (accessible name contains the label)', () => {
  for (const l of LANGS) {
    for (const s of Object.values(STATE)) {
      const label = DICT[l][`badge.${s}`].replace(/…$/, '');
      assert.ok(DICT[l][`badge.title.${s}`].startsWith(label), `${l} ${s}`);
    }
  }
});
