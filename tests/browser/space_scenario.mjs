// browser.space, the browser half: the citizen's digital-space page (docs/space.md, issue #5
// item 5) driven in Debian's Chromium, with the zone calls it must show made by this script
// (Node's fetch). Started by test_space_browser.py against a real gateway and real demo
// providers; every input comes from the environment:
//   QAQPA_STATE_URL, QAQPA_EXTERNAL_URL, QAQPA_SPACE_URL   http://127.0.0.1:<port> of the listeners
//   QAQPA_CITIZEN, QAQPA_OTHER_CITIZEN                     IIN:<12 digits>, two demo citizens
//   QAQPA_BROWSER_ARTIFACTS                                where screenshots, the CSV and logs go
// The page is used only through the data-testid hooks of its DOM contract (never visible text).
// Exit 0 when every step passed; 1 with the failing step, a screenshot and the console log.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { launch, MissingDependency } from './lib/chromium.mjs';

const TAX = 'KZ/GOV/240140000021/tax-service';
const BANK = 'KZ/COM/990340000014/bank-core';
const SERVICE = 'person.byIin';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run through test_space_browser.py (ctest -R browser.space)`);
  return v;
}

const STATE = env('QAQPA_STATE_URL');
const EXTERNAL = env('QAQPA_EXTERNAL_URL');
const SPACE = env('QAQPA_SPACE_URL');
const CITIZEN = env('QAQPA_CITIZEN');
const OTHER = env('QAQPA_OTHER_CITIZEN');
const ARTIFACTS = env('QAQPA_BROWSER_ARTIFACTS');

const UI_TIMEOUT = 20_000;       // one page reaction (a fetch and a render)
const VERIFY_TIMEOUT = 45_000;   // WebCrypto checks of a page of events
const HTTP_TIMEOUT = 15_000;

const tid = (id) => `[data-testid="${id}"]`;
const log = (...a) => console.log('[space]', ...a);

// ---------------------------------------------------------------------------------------------
// Zone calls (PROTOCOL.md §2; demo mode trusts Qaqpa-Client on plain HTTP)

async function callPerson(base, client, purpose, subject, consent) {
  const messageId = crypto.randomUUID();
  const headers = {
    'Qaqpa-Client': client, 'Qaqpa-Subject': subject, 'Qaqpa-Purpose': purpose,
    'Qaqpa-Message-Id': messageId,
  };
  if (consent) headers['Qaqpa-Consent'] = consent;
  const r = await fetch(`${base}/v1/services/${SERVICE}`, { headers, signal: AbortSignal.timeout(HTTP_TIMEOUT) });
  const text = await r.text();
  const reply = {
    status: r.status, code: r.headers.get('qaqpa-status'), eventId: r.headers.get('qaqpa-event-id'),
    messageId: r.headers.get('qaqpa-message-id'), text,
  };
  const what = `${client} ${purpose} ${subject}${consent ? ` consent ${consent}` : ''}: ${r.status} ${text.slice(0, 400)}`;
  assert.equal(reply.messageId, messageId, `message id echoed — ${what}`);
  assert.match(reply.eventId || '', /^[0-9a-f-]{36}$/, `Qaqpa-Event-Id — ${what}`);
  reply.what = what;
  return reply;
}

// With several replicas (QAQPA_SHARED_INDEX=1: the page's replica reads the shared index in
// Redis), an event journaled by one replica is listed by the others once the outbox has shipped
// it (milliseconds, docs/space.md "Several replicas"). Before the page is asked for events, wait
// until the API serves each of them — as a citizen would press "refresh" — so that the scenario
// tests the page, not the race. Without replicas: nothing to wait for.
const SHARED_INDEX = process.env.QAQPA_SHARED_INDEX === '1';
const apiTokens = new Map();
async function awaitListed(subject, eventIds) {
  if (!SHARED_INDEX) return;
  if (!apiTokens.has(subject)) {
    const r = await fetch(`${SPACE}/v1/space/demo-login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ iin: subject }), signal: AbortSignal.timeout(HTTP_TIMEOUT),
    });
    assert.equal(r.status, 200, 'demo login for the shipping wait');
    apiTokens.set(subject, (await r.json()).token);
  }
  const headers = { Authorization: `Bearer ${apiTokens.get(subject)}` };
  const deadline = Date.now() + UI_TIMEOUT;
  for (const id of eventIds) {
    for (;;) {
      const r = await fetch(`${SPACE}/v1/space/events/${id}`, { headers, signal: AbortSignal.timeout(HTTP_TIMEOUT) });
      await r.arrayBuffer();
      if (r.status === 200) break;
      assert.ok(r.status === 404 || r.status === 503, `GET /v1/space/events/${id}: ${r.status}`);
      assert.ok(Date.now() < deadline, `event ${id} not shipped to the shared index within ${UI_TIMEOUT} ms`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }
}

const taxCall = (subject) => callPerson(STATE, TAX, 'TAX_ADMINISTRATION', subject);
const bankCall = (consent) => callPerson(EXTERNAL, BANK, 'CREDIT_SCORING', CITIZEN, consent);

function assertOk(r) {
  assert.equal(r.status, 200, r.what);
  assert.equal(r.code, 'OK', r.what);
}

function assertConsentRequired(r, reason) {
  assert.equal(r.status, 403, r.what);
  assert.equal(r.code, 'CONSENT_REQUIRED', r.what);
  const body = JSON.parse(r.text);
  assert.equal(body.code, 'CONSENT_REQUIRED', r.what);
  // PROTOCOL.md §5: the problem quotes the refusal's digital event.
  assert.equal(body.eventId, r.eventId, `problem eventId = Qaqpa-Event-Id — ${r.what}`);
  if (reason) assert.equal(body.reason, reason, r.what);
}

// ---------------------------------------------------------------------------------------------
// Page helpers

const pages = [];          // every page opened, for the failure artifacts
const consoleLines = [];   // console and page errors of all pages, in order
let shot = 0;

function watch(page, label) {
  pages.push({ page, label });
  page.on('console', (m) => consoleLines.push(`[${label}] ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`[${label}] pageerror: ${e.stack || e.message}`));
  page.on('requestfailed', (r) => consoleLines.push(`[${label}] requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    if (r.status() >= 400) consoleLines.push(`[${label}] response ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
}

async function screenshot(page, name) {
  shot += 1;
  const file = path.join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log(`screenshot ${file}`);
}

// Waits (in the page, bounded) until fn(arg) is truthy; the error names what was awaited and
// what the page's error box said, if anything.
async function until(page, what, fn, arg, timeout = UI_TIMEOUT) {
  try {
    return await page.waitForFunction(fn, arg, { timeout, polling: 50 });
  } catch (e) {
    const shown = await page.locator(tid('error')).first().textContent({ timeout: 1000 }).catch(() => null);
    throw new Error(`${what}: not within ${timeout / 1000} s${shown ? ` (page error box: ${shown.trim()})` : ''}\n${e.message}`);
  }
}

const eventRow = (page, eventId) => page.locator(`${tid('event-row')}[data-event-id="${eventId}"]`);

async function rowAttrs(locator) {
  return locator.evaluate((el) => Object.fromEntries(
    ['data-event-id', 'data-kind', 'data-status', 'data-client', 'data-service', 'data-consent-id', 'data-state']
      .filter((a) => el.hasAttribute(a)).map((a) => [a, el.getAttribute(a)])));
}

// The row of this event is in the events table, with these data-* attributes.
async function expectEventRow(page, eventId, expected, what) {
  await until(page, `${what}: row of event ${eventId} in the events table`,
    ([t, id]) => document.querySelector(`${t} [data-testid="event-row"][data-event-id="${id}"]`) !== null,
    [tid('events-table'), eventId]);
  const attrs = await rowAttrs(eventRow(page, eventId));
  for (const [k, v] of Object.entries(expected)) {
    assert.equal(attrs[`data-${k}`], v, `${what}: event row data-${k} (row ${JSON.stringify(attrs)})`);
  }
}

// The integrity badge of this event's row leaves "pending" and is "verified".
async function expectVerified(page, eventId, what) {
  const sel = `[data-testid="event-row"][data-event-id="${eventId}"] [data-testid="verify-badge"]`;
  await until(page, `${what}: verify-badge of ${eventId} leaves "pending"`,
    (s) => { const b = document.querySelector(s); return b && b.dataset.state && b.dataset.state !== 'pending'; },
    sel, VERIFY_TIMEOUT);
  const badge = page.locator(sel);
  const state = await badge.getAttribute('data-state');
  const title = await badge.getAttribute('title');
  assert.equal(state, 'verified', `${what}: verify-badge of ${eventId} is ${state} (title: ${title})`);
}

async function eventIdsShown(page) {
  return page.locator(tid('event-row')).evaluateAll((rows) => rows.map((r) => r.dataset.eventId));
}

async function login(page, citizen) {
  const resp = await page.goto(`${SPACE}/space/`, { timeout: UI_TIMEOUT });
  assert.equal(resp.status(), 200, 'GET /space/');
  await page.locator(tid('login-view')).waitFor({ timeout: UI_TIMEOUT });
  const select = page.locator(tid('demo-citizen'));
  await until(page, `demo-citizen lists ${citizen}`,
    ([s, v]) => [...(document.querySelector(s)?.options || [])].some((o) => o.value === v),
    [tid('demo-citizen'), citizen]);
  await select.selectOption(citizen);
  await page.locator(tid('login')).click();
  const digits = citizen.replace(/^IIN:/, '');
  await until(page, `whoami shows ${digits}`,
    ([s, d]) => (document.querySelector(s)?.textContent || '').includes(d), [tid('whoami'), digits]);
  await page.locator(tid('events-view')).waitFor({ timeout: UI_TIMEOUT });
}

async function refreshEvents(page) {
  await page.locator(tid('tab-events')).click();
  await page.locator(tid('events-view')).waitFor({ timeout: UI_TIMEOUT });
  const listed = page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/space/events'
    && r.request().method() === 'GET', { timeout: UI_TIMEOUT });
  await page.locator(tid('refresh')).click();
  const r = await listed;
  assert.equal(r.status(), 200, `GET ${r.url()} after refresh`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// The scenario

const steps = [];
let current = '(start)';

async function step(name, fn) {
  current = name;
  const t0 = Date.now();
  log(`step ${name}`);
  await fn();
  steps.push(`${name} ${Date.now() - t0} ms`);
}

function nextMonthDate() {
  // A date about a month ahead (input type=date value, YYYY-MM-DD), whatever today is.
  const d = new Date(Date.now() + 31 * 24 * 3600 * 1000);
  return d.toISOString().slice(0, 10);
}

async function scenario(browser) {
  const ids = {};
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  watch(page, CITIZEN);

  await step('1-zone-calls', async () => {
    const tax = await taxCall(CITIZEN);
    assertOk(tax);
    ids.tax = tax.eventId;
    const denied = await bankCall(null);
    assertConsentRequired(denied, 'CONSENT_MISSING');
    ids.deniedNoConsent = denied.eventId;
    log(`tax DATA_ACCESS ${ids.tax}; bank CONSENT_REQUIRED ${ids.deniedNoConsent}`);
    await awaitListed(CITIZEN, [ids.tax, ids.deniedNoConsent]);
  });

  await step('2-login-and-events', async () => {
    await login(page, CITIZEN);
    assert.equal(await page.locator('html').getAttribute('lang'), 'kk', 'Kazakh by default');
    await expectEventRow(page, ids.tax, { kind: 'DATA_ACCESS', status: 'OK', client: TAX, service: SERVICE }, 'tax call');
    await expectEventRow(page, ids.deniedNoConsent,
      { kind: 'ACCESS_DENIED', status: 'CONSENT_REQUIRED', client: BANK, service: SERVICE }, 'bank without consent');
    await expectVerified(page, ids.tax, 'tax call');
    await expectVerified(page, ids.deniedNoConsent, 'bank without consent');
    await screenshot(page, 'events-verified');
  });

  let consentId;
  await step('3-grant-consent', async () => {
    await page.locator(tid('tab-consents')).click();
    await page.locator(tid('consents-view')).waitFor({ timeout: UI_TIMEOUT });
    await until(page, 'consent-client offers the bank',
      ([s, v]) => [...(document.querySelector(s)?.options || [])].some((o) => o.value === v),
      [tid('consent-client'), BANK]);
    await page.locator(tid('consent-client')).selectOption(BANK);
    const box = page.locator(`${tid('consent-service')}[value="${SERVICE}"]`);
    await box.waitFor({ timeout: UI_TIMEOUT });
    await box.check();
    await until(page, 'consent-purpose offers CREDIT_SCORING',
      ([s, v]) => [...(document.querySelector(s)?.options || [])].some((o) => o.value === v),
      [tid('consent-purpose'), 'CREDIT_SCORING']);
    await page.locator(tid('consent-purpose')).selectOption('CREDIT_SCORING');
    await page.locator(tid('consent-expires')).fill(nextMonthDate());
    const before = await page.locator(tid('consent-row')).evaluateAll((rows) => rows.map((r) => r.dataset.consentId));
    const granted = page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/space/consents'
      && r.request().method() === 'POST', { timeout: UI_TIMEOUT });
    await page.locator(tid('consent-grant')).click();
    const resp = await granted;
    const body = await resp.json().catch(() => ({}));
    assert.equal(resp.status(), 201, `POST /v1/space/consents: ${JSON.stringify(body)}`);
    ids.granted = resp.headers()['qaqpa-event-id'];
    assert.match(ids.granted || '', /^[0-9a-f-]{36}$/, 'Qaqpa-Event-Id of CONSENT_GRANTED');
    await until(page, 'a new ACTIVE consent row for the bank',
      ([t, c, old]) => [...document.querySelectorAll(`${t} [data-testid="consent-row"]`)].some(
        (r) => !old.includes(r.dataset.consentId) && r.dataset.state === 'ACTIVE' && r.dataset.client === c),
      [tid('consents-table'), BANK, before]);
    const fresh = await page.locator(`${tid('consent-row')}[data-state="ACTIVE"][data-client="${BANK}"]`)
      .evaluateAll((rows, old) => rows.map((r) => r.dataset.consentId).filter((id) => !old.includes(id)), before);
    assert.equal(fresh.length, 1, `exactly one new ACTIVE bank consent row: ${fresh}`);
    consentId = fresh[0];
    assert.equal(consentId, body.id, 'the row shows the consent the API created');
    await screenshot(page, 'consent-active');
    const ok = await bankCall(consentId);
    assertOk(ok);
    ids.bankOk = ok.eventId;
    log(`consent ${consentId} (event ${ids.granted}); bank with it: 200, event ${ids.bankOk}`);
  });

  await step('4-revoke-consent', async () => {
    const row = page.locator(`${tid('consent-row')}[data-consent-id="${consentId}"]`);
    await row.locator(tid('consent-revoke')).click();
    const revoked = page.waitForResponse((r) => new URL(r.url()).pathname === `/v1/space/consents/${consentId}`
      && r.request().method() === 'DELETE', { timeout: UI_TIMEOUT });
    await row.locator(tid('consent-revoke-confirm')).click();
    const resp = await revoked;
    assert.equal(resp.status(), 200, `DELETE /v1/space/consents/${consentId}`);
    ids.revoked = resp.headers()['qaqpa-event-id'];
    assert.match(ids.revoked || '', /^[0-9a-f-]{36}$/, 'Qaqpa-Event-Id of CONSENT_REVOKED');
    await until(page, `consent row ${consentId} turns REVOKED`,
      ([t, id]) => document.querySelector(`${t} [data-testid="consent-row"][data-consent-id="${id}"]`)?.dataset.state === 'REVOKED',
      [tid('consents-table'), consentId]);
    assert.equal(await row.locator(tid('consent-revoke')).count(), 0, 'no revoke button on a REVOKED row');
    await screenshot(page, 'consent-revoked');
    const denied = await bankCall(consentId);
    assertConsentRequired(denied, 'CONSENT_REVOKED');
    ids.deniedRevoked = denied.eventId;

    await awaitListed(CITIZEN, [ids.bankOk, ids.granted, ids.revoked, ids.deniedRevoked]);
    await refreshEvents(page);
    await expectEventRow(page, ids.deniedRevoked,
      { kind: 'ACCESS_DENIED', status: 'CONSENT_REQUIRED', client: BANK, service: SERVICE }, 'bank after revocation');
    await expectEventRow(page, ids.bankOk, { kind: 'DATA_ACCESS', status: 'OK', client: BANK, service: SERVICE }, 'bank with consent');
    await expectEventRow(page, ids.granted, { kind: 'CONSENT_GRANTED', client: BANK }, 'consent granted');
    await expectEventRow(page, ids.revoked, { kind: 'CONSENT_REVOKED', client: BANK }, 'consent revoked');
    for (const [what, id] of Object.entries(ids)) await expectVerified(page, id, what);
    await screenshot(page, 'events-after-revocation');
  });

  await step('4b-filter', async () => {
    // The kind filter narrows the table to the two denials; reset brings everything back.
    const denials = [ids.deniedNoConsent, ids.deniedRevoked];
    await page.locator(tid('filter-kind')).selectOption('ACCESS_DENIED');
    const listed = page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/space/events'
      && new URL(r.url()).searchParams.get('kind') === 'ACCESS_DENIED', { timeout: UI_TIMEOUT });
    await page.locator(tid('apply-filters')).click();
    assert.equal((await listed).status(), 200, 'GET /v1/space/events?kind=ACCESS_DENIED');
    await until(page, 'only the two ACCESS_DENIED rows',
      ([t, want]) => {
        const rows = [...document.querySelectorAll(`${t} [data-testid="event-row"]`)];
        return rows.length === want.length && rows.every((r) => r.dataset.kind === 'ACCESS_DENIED')
          && want.every((id) => rows.some((r) => r.dataset.eventId === id));
      }, [tid('events-table'), denials]);
    await screenshot(page, 'filter-denied');
    await page.locator(tid('reset-filters')).click();
    await until(page, 'every event back after reset-filters',
      ([t, want]) => want.every((id) => document.querySelector(`${t} [data-testid="event-row"][data-event-id="${id}"]`)),
      [tid('events-table'), Object.values(ids)]);
    assert.equal(await page.locator(tid('filter-kind')).inputValue(), '', 'filter-kind reset');
  });

  await step('5-languages', async () => {
    const html = page.locator('html');
    // Visible text is compared between languages, never to fixed words.
    const textOf = async () => ({
      tab: (await page.locator(tid('tab-events')).textContent()).trim(),
      headings: await page.locator('h1, h2').evaluateAll((hs) => hs.map((h) => h.textContent.trim())),
    });
    const kk = await textOf();
    assert.ok(kk.tab, 'tab-events has visible text');
    const switchTo = async (lang) => {
      await page.locator(tid(`lang-${lang}`)).click();
      await until(page, `<html lang="${lang}">`, (l) => document.documentElement.lang === l, lang);
      assert.equal(await page.locator(tid(`lang-${lang}`)).getAttribute('aria-pressed'), 'true', `lang-${lang} pressed`);
      for (const other of ['kk', 'ru', 'en'].filter((l) => l !== lang)) {
        assert.notEqual(await page.locator(tid(`lang-${other}`)).getAttribute('aria-pressed'), 'true', `lang-${other} not pressed`);
      }
      return textOf();
    };
    const ru = await switchTo('ru');
    // The page asks the API in the chosen language.
    const listed = await refreshEvents(page);
    assert.equal(listed.request().headers()['accept-language'], 'ru', 'Accept-Language follows the page language');
    await screenshot(page, 'lang-ru');
    const en = await switchTo('en');
    await screenshot(page, 'lang-en');
    assert.notEqual(ru.tab, kk.tab, `tab-events text changes kk -> ru (${kk.tab})`);
    assert.notEqual(en.tab, ru.tab, `tab-events text changes ru -> en (${ru.tab})`);
    assert.notEqual(en.tab, kk.tab, 'tab-events text differs between en and kk');
    const changed = (a, b) => a.headings.some((h, i) => b.headings[i] !== undefined && b.headings[i] !== h);
    assert.ok(changed(kk, ru) && changed(ru, en),
      `a heading (h1/h2) changes with the language: ${JSON.stringify([kk.headings, ru.headings, en.headings])}`);
    // The choice persists (localStorage) across a reload; the session (sessionStorage) too.
    await page.reload({ timeout: UI_TIMEOUT });
    await until(page, 'English kept after a reload', () => document.documentElement.lang === 'en');
    await page.locator(tid('events-view')).waitFor({ timeout: UI_TIMEOUT });
    const back = await switchTo('kk');
    assert.equal(back.tab, kk.tab, 'Kazakh text again');
    await expectEventRow(page, ids.tax, { kind: 'DATA_ACCESS' }, 'after the language round trip');
    await screenshot(page, 'lang-kk');
  });

  await step('6-csv', async () => {
    // The Kazakh service name, as the API itself gives it, must come through the CSV intact.
    const token = await demoToken(CITIZEN);
    const ev = await apiJson(`/v1/space/events/${ids.tax}`, token);
    const serviceKk = ev.event?.service?.name?.kk;
    assert.ok(serviceKk && /[\u0400-\u04FF]/.test(serviceKk), `Kazakh service name from the API: ${JSON.stringify(ev.event?.service)}`);

    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: UI_TIMEOUT }),
      page.locator(tid('download-csv')).click(),
    ]);
    const name = download.suggestedFilename();
    const file = path.join(ARTIFACTS, name || 'events.csv');
    await download.saveAs(file);
    assert.match(name, /^qaqpa-events-\d{8}\.csv$/, 'download file name');
    const bytes = fs.readFileSync(file);
    assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'the CSV starts with the UTF-8 byte-order mark');
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(3));
    const lines = text.split('\r\n');
    assert.ok(lines.length >= 2 + Object.keys(ids).length, `CRLF rows: ${lines.length}`);
    const header = lines[0];
    assert.match(header, /^"[^"]+"(,"[^"]+"){12}$/, `header row of 13 quoted columns: ${header}`);
    assert.match(header, /[\u0400-\u04FF]/, `header row in Kazakh (Cyrillic): ${header}`);
    for (const [what, id] of Object.entries(ids)) {
      assert.ok(lines.some((l) => l.includes(`"${id}"`)), `CSV has the ${what} event ${id}`);
    }
    const taxLine = lines.find((l) => l.includes(`"${ids.tax}"`));
    assert.ok(taxLine.includes(serviceKk), `Kazakh service name "${serviceKk}" intact in ${taxLine}`);
    assert.match(text, /[әіңғүұқөһӘІҢҒҮҰҚӨҺ]/, 'Kazakh letters intact');
    log(`CSV ${file}: ${lines.length - 1} lines`);
  });

  await step('7-other-citizen', async () => {
    const theirs = await taxCall(OTHER);
    assertOk(theirs);
    await awaitListed(OTHER, [theirs.eventId]);
    const other = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page2 = await other.newPage();
    watch(page2, OTHER);
    await login(page2, OTHER);
    // Their own event is listed (the table has loaded), none of the first citizen's is.
    await expectEventRow(page2, theirs.eventId, { kind: 'DATA_ACCESS', client: TAX }, 'the other citizen\'s own call');
    const shown = await eventIdsShown(page2);
    for (const [what, id] of Object.entries(ids)) {
      assert.ok(!shown.includes(id), `${OTHER} must not see ${CITIZEN}'s ${what} event ${id}`);
    }
    await screenshot(page2, 'other-citizen');
    await other.close();
  });

  await step('7b-token-handover', async () => {
    // A real identity provider returns to /space/#access_token=<JWT>: the page signs in with it
    // and removes it from the address at once.
    const token = await demoToken(OTHER);
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page3 = await ctx.newPage();
    watch(page3, `${OTHER}-handover`);
    await page3.goto(`${SPACE}/space/#access_token=${token}`, { timeout: UI_TIMEOUT });
    const digits = OTHER.replace(/^IIN:/, '');
    await until(page3, `whoami shows ${digits} after the hand-over`,
      ([s, d]) => (document.querySelector(s)?.textContent || '').includes(d), [tid('whoami'), digits]);
    assert.ok(!page3.url().includes('access_token'), `token removed from the address: ${page3.url()}`);
    assert.ok(!page3.url().includes(token.slice(-16)), 'token not in the address');
    await page3.locator(tid('events-view')).waitFor({ timeout: UI_TIMEOUT });
    await until(page3, 'the hand-over session lists events',
      (s) => document.querySelectorAll(s).length > 0, tid('event-row'));
    const shown = await eventIdsShown(page3);
    for (const [what, id] of Object.entries(ids)) {
      assert.ok(!shown.includes(id), `${OTHER} (hand-over) must not see ${CITIZEN}'s ${what} event ${id}`);
    }
    await screenshot(page3, 'token-handover');
    await ctx.close();
  });

  await step('8-no-page-errors', async () => {
    // Nothing above provokes an error in the page: an uncaught exception, a console error or a
    // failed request is a defect even when the visible outcome was right.
    const bad = consoleLines.filter((l) => /\] (pageerror|error|requestfailed|response \d+)/.test(l));
    assert.deepEqual(bad, [], 'page errors, console errors or failed requests during the scenario');
  });
  await context.close();
}

async function demoToken(citizen) {
  const r = await fetch(`${SPACE}/v1/space/demo-login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ iin: citizen }), signal: AbortSignal.timeout(HTTP_TIMEOUT),
  });
  const body = await r.json();
  assert.equal(r.status, 200, `demo-login: ${JSON.stringify(body)}`);
  return body.token;
}

async function apiJson(target, token) {
  const r = await fetch(`${SPACE}${target}`, { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(HTTP_TIMEOUT) });
  const body = await r.json();
  assert.equal(r.status, 200, `${target}: ${JSON.stringify(body)}`);
  return body;
}

async function saveFailureArtifacts() {
  for (const { page, label } of pages) {
    if (page.isClosed()) continue;
    const file = path.join(ARTIFACTS, `failure-${label.replace(/[^0-9A-Za-z]/g, '_')}.png`);
    await page.screenshot({ path: file, fullPage: true, timeout: 10_000 }).then(
      () => console.error(`failure screenshot: ${file}`), (e) => console.error(`no failure screenshot: ${e.message}`));
    const err = await page.locator(tid('error')).first().textContent({ timeout: 1000 }).catch(() => null);
    if (err && err.trim()) console.error(`[${label}] page error box: ${err.trim()}`);
  }
  const consoleFile = path.join(ARTIFACTS, 'console.log');
  fs.writeFileSync(consoleFile, consoleLines.join('\n') + '\n');
  console.error(`--- page console (${consoleFile}) ---\n${consoleLines.slice(-200).join('\n')}\n--- end console ---`);
}

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await launch();
  const version = browser.version();
  let failed = null;
  try {
    await scenario(browser);
  } catch (e) {
    failed = e;
    await saveFailureArtifacts().catch((x) => console.error(`saving failure artifacts: ${x.stack || x}`));
  } finally {
    await browser.close().catch(() => {});
  }
  fs.writeFileSync(path.join(ARTIFACTS, 'console.log'), consoleLines.join('\n') + '\n');
  if (failed) throw failed;
  log(`Chromium ${version}; all steps passed: ${steps.join(', ')}`);
}

main().then(() => process.exit(0), (e) => {
  if (e instanceof MissingDependency) console.error(`FAIL: ${e.message}`);
  else console.error(`FAIL in step ${current}: ${e.stack || e}`);
  process.exit(1);
});
