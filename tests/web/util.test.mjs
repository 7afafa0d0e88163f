// Pure helpers of the page (web/space/util.js).
import test from 'node:test';
import assert from 'node:assert/strict';

import {
  pickText, formatLocalTime, eventsQuery, dayStart, dayAfter, dayEnd, addDays, isDate,
  almatyToday, dispositionFilename, tokenSubject, createLimiter,
} from '../../web/space/util.js';

test('names: the language, then another, then the id', () => {
  const name = { kk: 'Салық', ru: 'Налог', en: 'Tax' };
  assert.equal(pickText(name, 'ru', 'id'), 'Налог');
  assert.equal(pickText({ en: 'Tax' }, 'kk', 'id'), 'Tax');
  assert.equal(pickText({ ru: 'Налог', en: 'Tax' }, 'kk', 'id'), 'Налог');
  assert.equal(pickText({ kk: '', ru: '' }, 'en', 'tax.debtStatus'), 'tax.debtStatus');
  assert.equal(pickText(undefined, 'en', 'x'), 'x');
  assert.equal(pickText({ kk: 5 }, 'kk', undefined), '');
});

test('times are shown in Asia/Almaty', () => {
  const s = formatLocalTime('2026-11-23T09:17:01.250000Z', 'en');
  assert.match(s, /23\/11\/2026/);
  assert.match(s, /14:17:01/); // UTC+05:00
  assert.match(formatLocalTime('2026-11-23T21:00:00.000000Z', 'ru'), /24\.11\.2026.*02:00:00/);
  assert.equal(formatLocalTime('nonsense', 'kk'), '');
  assert.equal(formatLocalTime(undefined, 'kk'), '');
});

test('dates of the filters and consents', () => {
  assert.ok(isDate('2026-11-23'));
  assert.ok(!isDate('2026-02-30'));
  assert.ok(!isDate('23.11.2026'));
  assert.equal(addDays('2026-12-31', 1), '2027-01-01');
  assert.equal(addDays('2028-02-28', 1), '2028-02-29');
  assert.equal(dayStart('2026-11-23'), '2026-11-23T00:00:00+05:00');
  assert.equal(dayAfter('2026-11-23'), '2026-11-24T00:00:00+05:00');
  assert.equal(dayEnd('2026-11-23'), '2026-11-23T23:59:59+05:00');
  // 20:00 UTC is already the next day in Almaty
  assert.equal(almatyToday(new Date('2026-11-23T20:00:00Z')), '2026-11-24');
  assert.equal(almatyToday(new Date('2026-11-23T18:59:59Z')), '2026-11-23');
});

test('the events query leaves out empty filters', () => {
  const none = { kind: '', service: '', client: '', since: '', until: '' };
  assert.equal(eventsQuery(none), '');
  assert.equal(eventsQuery(none, { limit: 20, cursor: null }), '?limit=20');
  const q = eventsQuery(
    { kind: 'ACCESS_DENIED', service: 'person.byIin', client: 'KZ/COM/990340000014/bank-core', since: '2026-11-01', until: '2026-11-23' },
    { limit: 20, cursor: 'abc+/=' });
  const p = new URLSearchParams(q.slice(1));
  assert.equal(p.get('since'), '2026-11-01T00:00:00+05:00');
  assert.equal(p.get('until'), '2026-11-24T00:00:00+05:00');
  assert.equal(p.get('client'), 'KZ/COM/990340000014/bank-core');
  assert.equal(p.get('kind'), 'ACCESS_DENIED');
  assert.equal(p.get('cursor'), 'abc+/=');
  assert.match(q, /since=2026-11-01T00%3A00%3A00%2B05%3A00/); // '+' percent-encoded
});

test('filename of a download, subject of a token', () => {
  assert.equal(dispositionFilename('attachment; filename="qaqpa-events-20261123.csv"', 'x.csv'), 'qaqpa-events-20261123.csv');
  assert.equal(dispositionFilename('attachment; filename="../../etc/passwd"', 'x.csv'), 'x.csv');
  assert.equal(dispositionFilename(null, 'x.csv'), 'x.csv');
  const b64u = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  assert.equal(tokenSubject(`${b64u({ alg: 'ES256' })}.${b64u({ sub: 'IIN:900101300017', name: 'Әлия' })}.sig`), 'IIN:900101300017');
  assert.equal(tokenSubject('garbage'), '');
});

test('the limiter runs at most n tasks at once, all of them', async () => {
  const run = createLimiter(4);
  let active = 0;
  let peak = 0;
  const tasks = Array.from({ length: 20 }, (_, i) => run(async () => {
    active++;
    peak = Math.max(peak, active);
    await new Promise((r) => setTimeout(r, 2));
    active--;
    if (i === 5) throw new Error('five');
    return i;
  }));
  const results = await Promise.allSettled(tasks);
  assert.equal(peak, 4);
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 19);
  assert.equal(results[5].reason.message, 'five');
});
