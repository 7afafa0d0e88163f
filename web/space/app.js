// The citizen's digital-space page (docs/space.md, issue #5 item 4). Plain ES modules, no
// framework, no third-party code. Every string from the API goes into the DOM through
// textContent or attribute setters, never parsed as HTML, so event texts cannot inject markup.
// The DOM contract (data-testid names) is summarised in web/space/README.md.

import { DICT, LANGS, DEFAULT_LANG, KINDS, t, tCode } from './i18n.js';
import { STATE, KeyRing, verifyEvent } from './verify.js';
import {
  pickText, formatLocalTime, eventsQuery, dayEnd, almatyToday, addDays, isDate,
  dispositionFilename, tokenSubject, createLimiter,
} from './util.js';

const PAGE_SIZE = 20;
const TOKEN_KEY = 'qaqpa.space.token';
const SUBJECT_KEY = 'qaqpa.space.subject';
const LANG_KEY = 'qaqpa.lang';

const $ = (id) => document.getElementById(id);

const state = {
  lang: DEFAULT_LANG,
  token: null,
  subject: '',
  filters: { kind: '', service: '', client: '', since: '', until: '' },
  cursors: [null], // cursors[i] opens page i + 1; the last one is the page shown
  nextCursor: null,
  events: [],
  eventsLoaded: false,
  eventsStale: false,
  clients: new Map(), // id -> LocalizedText | null, for the filter
  services: new Map(),
  purposes: new Map(), // code -> LocalizedText: words for events that carry only the code
  options: [], // consent-options
  consents: [],
  confirming: null, // consent id whose revocation waits for confirmation
  verifications: new Map(), // event id -> Promise<result>
  results: new Map(), // event id -> result
  keyRing: null,
  loadSeq: 0,
};

const limit = createLimiter(4);

// ---------------------------------------------------------------- language

function storedLang() {
  try {
    const l = localStorage.getItem(LANG_KEY);
    return LANGS.includes(l) ? l : DEFAULT_LANG;
  } catch {
    return DEFAULT_LANG;
  }
}

function setLang(lang) {
  state.lang = LANGS.includes(lang) ? lang : DEFAULT_LANG;
  try {
    localStorage.setItem(LANG_KEY, state.lang);
  } catch {
    /* storage disabled: the choice lasts for this page only */
  }
  applyStaticText();
  renderStatus();
  renderKindOptions();
  renderFilterOptions();
  renderEvents();
  renderConsentForm();
  renderConsents();
}

function applyStaticText() {
  const lang = state.lang;
  document.documentElement.lang = lang;
  document.title = `${t(lang, 'app.title')} — Qaqpa`;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(lang, el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-aria-label]')) {
    el.setAttribute('aria-label', t(lang, el.dataset.i18nAriaLabel));
  }
  for (const b of document.querySelectorAll('.lang-btn')) {
    b.setAttribute('aria-pressed', String(b.dataset.lang === lang));
  }
  renderPageInfo();
}

const tr = (key, params) => t(state.lang, key, params);
const name = (text, id) => pickText(text, state.lang, id);

// ---------------------------------------------------------------- messages

// Status messages are dictionary entries ([key, params] pairs), so a language switch re-renders
// them too.
let statusParts = [];
function showStatus(...parts) {
  statusParts = parts;
  renderStatus();
}
function renderStatus() {
  $('status').textContent = statusParts.map(([key, params]) => tr(key, params)).join(' ');
}

function clearError() {
  $('error').hidden = true;
  $('error-title').textContent = '';
  $('error-detail').textContent = '';
}

function showError(title, detail) {
  $('error-title').textContent = title || '';
  $('error-detail').textContent = detail || '';
  $('error').hidden = false;
}

function showProblem(err) {
  if (err instanceof ApiError) {
    const p = err.problem;
    if (p && (p.title || p.detail)) {
      showError(String(p.title ?? ''), String(p.detail ?? ''));
    } else {
      showError(tr('error.unexpected'), tr('error.unexpectedDetail', { status: err.status }));
    }
  } else {
    showError(tr('error.network'), tr('error.networkDetail'));
  }
}

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, problem, response) {
    super(`HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.response = response;
  }
}

// fetch with the language, the token, JSON in and out. Resolves to {data, response}; rejects
// with ApiError for a non-2xx answer (a 401 also ends the session) or TypeError for the network.
async function api(path, { method = 'GET', body, auth = true, raw = false } = {}) {
  const headers = { 'Accept-Language': state.lang };
  if (!raw) headers.Accept = 'application/json';
  const used = auth ? state.token : null;
  if (used) headers.Authorization = `Bearer ${used}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit',
    cache: 'no-store',
    redirect: 'error',
  });
  if (!response.ok) {
    let problem = null;
    try {
      problem = await response.json();
    } catch {
      problem = null;
    }
    const err = new ApiError(response.status, problem, response);
    // Only the session this request belonged to ends (parallel requests answer 401 together;
    // a late answer must not end a newer session).
    if (response.status === 401 && used !== null && used === state.token) endSession(err);
    throw err;
  }
  if (raw) return { data: null, response };
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch {
      throw new ApiError(response.status, null, response);
    }
  }
  return { data, response };
}

// ---------------------------------------------------------------- session

function readToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function saveSession(token, subject) {
  state.token = token;
  state.subject = subject || tokenSubject(token);
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(SUBJECT_KEY, state.subject);
  } catch {
    /* storage disabled: the session lasts for this page only */
  }
}

function dropSession() {
  state.token = null;
  state.subject = '';
  try {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(SUBJECT_KEY);
  } catch {
    /* nothing stored */
  }
  state.loadSeq++;
  state.eventsStale = false;
  state.confirming = null;
  state.events = [];
  state.eventsLoaded = false;
  state.cursors = [null];
  state.nextCursor = null;
  state.consents = [];
  state.options = [];
  state.clients.clear();
  state.services.clear();
  state.purposes.clear();
  state.verifications.clear();
  state.results.clear();
}

// A token handed over by an identity provider in the fragment: taken, then removed from the URL
// (and from history) at once.
function takeFragmentToken() {
  const hash = window.location.hash;
  if (!hash || hash.length < 2) return null;
  const params = new URLSearchParams(hash.slice(1));
  const token = params.get('access_token');
  if (token === null) return null;
  history.replaceState(null, '', window.location.pathname + window.location.search);
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token) ? token : null;
}

function endSession(err) {
  dropSession();
  showLogin();
  const p = err && err.problem;
  if (p && (p.title || p.detail)) showError(String(p.title ?? ''), String(p.detail ?? ''));
  else showError(tr('error.session'), '');
}

async function showLogin() {
  $('app-view').hidden = true;
  $('login-view').hidden = false;
  $('login-loading').hidden = false;
  $('demo-login-form').hidden = true;
  $('egov-note').hidden = true;
  try {
    const { data } = await api('/v1/space/demo-login', { auth: false });
    const select = $('demo-citizen');
    select.replaceChildren();
    for (const c of Array.isArray(data && data.citizens) ? data.citizens : []) {
      if (typeof c !== 'string') continue;
      const o = document.createElement('option');
      o.value = c;
      o.textContent = c;
      select.append(o);
    }
    $('demo-login-form').hidden = false;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) showProblem(err);
    $('egov-note').hidden = false;
  } finally {
    $('login-loading').hidden = true;
  }
}

async function login(event) {
  event.preventDefault();
  const value = $('demo-citizen').value;
  if (!value) return;
  const button = $('login');
  button.disabled = true;
  clearError();
  try {
    const { data } = await api('/v1/space/demo-login', {
      method: 'POST', body: { iin: value }, auth: false,
    });
    if (!data || typeof data.token !== 'string') throw new ApiError(200, null, null);
    saveSession(data.token, typeof data.subject === 'string' ? data.subject : '');
    showStatus();
    showApp();
  } catch (err) {
    showProblem(err);
  } finally {
    button.disabled = false;
  }
}

function logout() {
  dropSession();
  clearError();
  showStatus(['login.signedOut']);
  showLogin();
}

function showApp() {
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  $('whoami').textContent = state.subject;
  selectTab('tab-events', false);
  resetFilterInputs();
  state.filters = { kind: '', service: '', client: '', since: '', until: '' };
  loadFirstPage();
  harvestNames();
  loadConsentOptions();
  loadConsents();
}

// ---------------------------------------------------------------- tabs

const TABS = ['tab-events', 'tab-consents'];

function selectTab(id, focus) {
  for (const tabId of TABS) {
    const tab = $(tabId);
    const on = tabId === id;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(tab.getAttribute('aria-controls')).hidden = !on;
  }
  if (focus) $(id).focus();
  if (id === 'tab-events' && state.eventsStale) loadFirstPage();
}

function onTabKey(event) {
  const i = TABS.indexOf(event.target.id);
  if (i < 0) return;
  let next = null;
  if (event.key === 'ArrowRight') next = (i + 1) % TABS.length;
  else if (event.key === 'ArrowLeft') next = (i - 1 + TABS.length) % TABS.length;
  else if (event.key === 'Home') next = 0;
  else if (event.key === 'End') next = TABS.length - 1;
  if (next === null) return;
  event.preventDefault();
  selectTab(TABS[next], true);
}

// ---------------------------------------------------------------- filters

function option(value, text) {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = text;
  return o;
}

function renderKindOptions() {
  const select = $('filter-kind');
  const current = select.value || state.filters.kind;
  select.replaceChildren(option('', tr('filters.any')));
  for (const k of KINDS) select.append(option(k, tCode(state.lang, 'kind', k)));
  select.value = current;
}

function rememberNames(events) {
  for (const e of events) {
    const c = e && e.client;
    if (c && typeof c.id === 'string' && (!state.clients.has(c.id) || c.name)) {
      state.clients.set(c.id, c.name ?? state.clients.get(c.id) ?? null);
    }
    const s = e && e.service;
    if (s && typeof s.id === 'string' && (!state.services.has(s.id) || s.name)) {
      state.services.set(s.id, s.name ?? state.services.get(s.id) ?? null);
    }
    const p = e && e.purpose;
    if (p && typeof p.code === 'string' && p.text) state.purposes.set(p.code, p.text);
  }
}

function fillIdSelect(select, map, current) {
  const entries = [...map.entries()].map(([id, text]) => [id, name(text, id)]);
  entries.sort((a, b) => a[1].localeCompare(b[1], state.lang));
  select.replaceChildren(option('', tr('filters.any')));
  for (const [id, label] of entries) select.append(option(id, label));
  if (current && !map.has(current)) select.append(option(current, current));
  select.value = current;
}

function renderFilterOptions() {
  fillIdSelect($('filter-client'), state.clients, $('filter-client').value || state.filters.client);
  fillIdSelect($('filter-service'), state.services, $('filter-service').value || state.filters.service);
}

// One wide unfiltered page to fill the client and service filters with the names this citizen
// has events about (the API has no list of systems for citizens).
async function harvestNames() {
  const session = state.token;
  try {
    const { data } = await api('/v1/space/events?limit=200');
    if (session !== state.token) return;
    rememberNames(Array.isArray(data && data.events) ? data.events : []);
    renderFilterOptions();
    renderEvents();
  } catch {
    /* the filters still work with what the pages show */
  }
}

function resetFilterInputs() {
  for (const id of ['filter-kind', 'filter-service', 'filter-client', 'filter-since', 'filter-until']) {
    $(id).value = '';
  }
}

function readFilters() {
  return {
    kind: $('filter-kind').value,
    service: $('filter-service').value,
    client: $('filter-client').value,
    since: isDate($('filter-since').value) ? $('filter-since').value : '',
    until: isDate($('filter-until').value) ? $('filter-until').value : '',
  };
}

function applyFilters(event) {
  if (event) event.preventDefault();
  const f = readFilters();
  if (f.since && f.until && f.since > f.until) {
    showError(tr('filters.dateOrder'), '');
    $('filter-since').focus();
    return;
  }
  state.filters = f;
  loadFirstPage();
}

function resetFilters() {
  resetFilterInputs();
  state.filters = { kind: '', service: '', client: '', since: '', until: '' };
  loadFirstPage();
}

// ---------------------------------------------------------------- events

function loadFirstPage() {
  state.cursors = [null];
  return loadPage();
}

async function loadPage() {
  const seq = ++state.loadSeq;
  state.eventsStale = false;
  const cursor = state.cursors[state.cursors.length - 1];
  const path = `/v1/space/events${eventsQuery(state.filters, { limit: PAGE_SIZE, cursor })}`;
  setPagingBusy(true);
  try {
    let data;
    for (let attempt = 0; ; attempt++) {
      try {
        ({ data } = await api(path));
        break;
      } catch (err) {
        // The index is rebuilt at start: 503 with Retry-After; try a few times, then say so.
        if (err instanceof ApiError && err.status === 503 && attempt < 4 && seq === state.loadSeq) {
          await new Promise((r) => setTimeout(r, 1000));
          continue;
        }
        throw err;
      }
    }
    if (seq !== state.loadSeq) return;
    clearError();
    state.events = Array.isArray(data && data.events) ? data.events.filter((e) => e && typeof e === 'object') : [];
    state.nextCursor = data && typeof data.nextCursor === 'string' && data.nextCursor ? data.nextCursor : null;
    state.eventsLoaded = true;
    rememberNames(state.events);
    renderFilterOptions();
    renderEvents();
  } catch (err) {
    if (seq !== state.loadSeq) return;
    showProblem(err);
    if (state.cursors.length > 1 && !(err instanceof ApiError && err.status === 401)) {
      // A refused cursor (for instance after a gateway restart): back to page one next time.
      state.cursors = [null];
    }
  } finally {
    if (seq === state.loadSeq) setPagingBusy(false);
  }
}

function setPagingBusy(busy) {
  $('events-table').setAttribute('aria-busy', String(busy));
  $('prev-page').disabled = busy || state.cursors.length <= 1;
  $('next-page').disabled = busy || !state.nextCursor;
}

function renderPageInfo() {
  const info = $('page-info');
  info.textContent = state.eventsLoaded
    ? tr('paging.info', { n: state.cursors.length, count: state.events.length })
    : '';
}

function cell(col, row) {
  const td = document.createElement('td');
  td.dataset.col = col;
  td.dataset.label = tr(`col.${col}`);
  row.append(td);
  return td;
}

function line(parent, text, cls) {
  const el = document.createElement('span');
  el.className = cls ? `line ${cls}` : 'line';
  el.textContent = text;
  parent.append(el);
  return el;
}

function renderEvents() {
  const body = $('events-body');
  body.replaceChildren();
  for (const e of state.events) body.append(eventRow(e));
  $('events-empty').hidden = !(state.eventsLoaded && state.events.length === 0);
  $('prev-page').disabled = state.cursors.length <= 1;
  $('next-page').disabled = !state.nextCursor;
  renderPageInfo();
}

function str(v) {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
}

function eventRow(e) {
  const row = document.createElement('tr');
  row.dataset.testid = 'event-row';
  const id = str(e.eventId);
  row.dataset.eventId = id;
  row.dataset.kind = str(e.kind);
  row.dataset.status = str(e.status);
  row.dataset.client = str(e.client && e.client.id);
  row.dataset.service = str(e.service && e.service.id);

  const time = document.createElement('time');
  time.dateTime = str(e.time);
  time.textContent = formatLocalTime(e.time, state.lang) || str(e.time);
  cell('time', row).append(time);

  const client = cell('client', row);
  if (e.client) {
    line(client, name(e.client.name, str(e.client.id)), 'name');
    line(client, str(e.client.id), 'id');
  }
  if (e.actor) line(client, tr('events.actor', { actor: str(e.actor) }), 'meta');

  const service = cell('service', row);
  if (e.service) {
    line(service, name(e.service.name, str(e.service.id)), 'name');
    line(service, str(e.service.id), 'id');
  } else {
    line(service, '—', 'meta');
  }
  if (e.provider) {
    line(service, tr('events.provider', { name: name(e.provider.name, str(e.provider.id)) }), 'meta');
  }

  const purpose = cell('purpose', row);
  if (e.purpose) {
    // A refusal may record only the code: its words from another event or the consent options.
    const text = e.purpose.text ?? state.purposes.get(e.purpose.code);
    line(purpose, name(text, str(e.purpose.code)), 'name');
  } else {
    line(purpose, '—', 'meta');
  }

  const zone = cell('zone', row);
  if (e.zone !== undefined) {
    line(zone, tCode(state.lang, 'zone', e.zone), `zone zone-${/^[A-Z_]+$/.test(str(e.zone)) ? str(e.zone).toLowerCase() : 'other'}`);
  }
  if (e.country) line(zone, str(e.country), 'meta');

  const outcome = cell('outcome', row);
  if (e.kind !== undefined) line(outcome, tCode(state.lang, 'kind', e.kind), 'meta');
  const okish = e.status === 'OK' || e.status === 'ACCEPTED';
  line(outcome, tCode(state.lang, 'status', e.status ?? ''), okish ? 'name outcome-ok' : 'name outcome-bad');

  const integrity = cell('integrity', row);
  const badge = document.createElement('span');
  badge.dataset.testid = 'verify-badge';
  // Focusable, so keyboard users reach the explanation; role=img lets it carry a name (a plain
  // span may not), and that name starts with the visible label.
  badge.setAttribute('role', 'img');
  badge.tabIndex = 0;
  integrity.append(badge);
  paintBadge(badge, state.results.get(id) ?? { state: STATE.PENDING, check: null });
  if (id && !state.results.has(id)) startVerification(e, id);
  return row;
}

// ---------------------------------------------------------------- verification

function keyRing() {
  if (!state.keyRing) {
    state.keyRing = fetch('/v1/keys', { headers: { Accept: 'application/json' }, credentials: 'omit', cache: 'no-store' })
      .then((r) => (r.ok ? r.json() : { keys: [] }))
      .catch(() => ({ keys: [] }))
      .then((jwks) => new KeyRing(jwks, crypto.subtle));
  }
  return state.keyRing;
}

function paintBadge(badge, result) {
  const s = result.state;
  badge.dataset.state = s;
  badge.className = `badge badge-${s}`;
  badge.textContent = tr(`badge.${s}`);
  const check = result.check ? tr(`check.${result.check}`) : '';
  const title = tr(`badge.title.${s}`, { check });
  badge.title = title;
  // The title starts with the visible label, so the accessible name contains it (WCAG 2.5.3).
  badge.setAttribute('aria-label', title);
}

function repaint(id) {
  const result = state.results.get(id);
  for (const row of $('events-body').querySelectorAll('tr[data-testid="event-row"]')) {
    if (row.dataset.eventId !== id) continue;
    const badge = row.querySelector('[data-testid="verify-badge"]');
    if (badge && result) paintBadge(badge, result);
  }
}

function startVerification(e, id) {
  if (state.verifications.has(id)) return;
  const session = state.token;
  const p = limit(async () => {
    if (state.token !== session) return null;
    if (typeof crypto === 'undefined' || !crypto.subtle) {
      return { state: STATE.UNVERIFIABLE, check: 'algorithm' };
    }
    let proofData;
    try {
      ({ data: proofData } = await api(`/v1/space/events/${encodeURIComponent(id)}`));
    } catch {
      return { state: STATE.UNVERIFIABLE, check: 'proof' };
    }
    if (!proofData || !proofData.proof) return { state: STATE.UNVERIFIABLE, check: 'proof' };
    const keys = await keyRing();
    return verifyEvent({ event: e, proof: proofData.proof, keys, subtle: crypto.subtle });
  }).then((result) => {
    if (!result || state.token !== session) {
      state.verifications.delete(id);
      return;
    }
    if (result.state === STATE.FAILED && result.note) console.warn(`event ${id}: ${result.note}`);
    state.results.set(id, result);
    repaint(id);
  });
  state.verifications.set(id, p);
}

// ---------------------------------------------------------------- CSV

async function downloadCsv() {
  const button = $('download-csv');
  button.disabled = true;
  clearError();
  try {
    const { response } = await api(`/v1/space/events.csv${eventsQuery(state.filters)}`, { raw: true });
    const blob = await response.blob();
    const filename = dispositionFilename(response.headers.get('Content-Disposition'), `qaqpa-events-${almatyToday().replace(/-/g, '')}.csv`);
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = filename;
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30000);
    const parts = [['events.csvDone', { name: filename }]];
    if (response.headers.get('Qaqpa-Export-Complete') === 'false') parts.push(['events.csvIncomplete']);
    showStatus(...parts);
  } catch (err) {
    showProblem(err);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- consents

async function loadConsentOptions() {
  try {
    const { data } = await api('/v1/space/consent-options');
    state.options = Array.isArray(data && data.options)
      ? data.options.filter((o) => o && o.client && typeof o.client.id === 'string')
      : [];
    for (const o of state.options) {
      if (!state.clients.has(o.client.id)) state.clients.set(o.client.id, o.client.name ?? null);
      for (const s of Array.isArray(o.services) ? o.services : []) {
        if (s && typeof s.id === 'string' && !state.services.has(s.id)) state.services.set(s.id, s.name ?? null);
      }
      for (const p of Array.isArray(o.purposes) ? o.purposes : []) {
        if (p && typeof p.code === 'string' && p.text && !state.purposes.has(p.code)) state.purposes.set(p.code, p.text);
      }
    }
    renderFilterOptions();
    renderConsentForm(true);
    renderEvents();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) showProblem(err);
  }
}

function currentOption() {
  const id = $('consent-client').value;
  return state.options.find((o) => o.client.id === id) ?? null;
}

function renderConsentForm(resetDate) {
  const clientSelect = $('consent-client');
  const chosen = clientSelect.value;
  clientSelect.replaceChildren();
  for (const o of state.options) clientSelect.append(option(o.client.id, name(o.client.name, o.client.id)));
  if (chosen && state.options.some((o) => o.client.id === chosen)) clientSelect.value = chosen;
  $('consent-no-options').hidden = state.options.length > 0;
  $('consent-grant').disabled = state.options.length === 0;
  renderConsentChoices();
  const expires = $('consent-expires');
  const tomorrow = addDays(almatyToday(), 1);
  expires.min = tomorrow;
  if (resetDate || !isDate(expires.value)) expires.value = addDays(almatyToday(), 365);
}

// The services and purposes of the chosen client, keeping what was ticked.
function renderConsentChoices() {
  const o = currentOption();
  const box = $('consent-services');
  const ticked = new Set([...box.querySelectorAll('input:checked')].map((i) => i.value));
  box.replaceChildren();
  for (const s of o && Array.isArray(o.services) ? o.services : []) {
    if (!s || typeof s.id !== 'string') continue;
    const label = document.createElement('label');
    label.className = 'check';
    const input = document.createElement('input');
    input.type = 'checkbox';
    input.name = 'consent-service';
    input.value = s.id;
    input.dataset.testid = 'consent-service';
    input.checked = ticked.has(s.id);
    const text = document.createElement('span');
    text.textContent = name(s.name, s.id);
    label.append(input, text);
    box.append(label);
  }
  const purpose = $('consent-purpose');
  const chosen = purpose.value;
  purpose.replaceChildren();
  for (const p of o && Array.isArray(o.purposes) ? o.purposes : []) {
    if (p && typeof p.code === 'string') purpose.append(option(p.code, name(p.text, p.code)));
  }
  if (chosen && [...purpose.options].some((x) => x.value === chosen)) purpose.value = chosen;
}

async function grantConsent(event) {
  event.preventDefault();
  clearError();
  const client = $('consent-client').value;
  const services = [...$('consent-services').querySelectorAll('input:checked')].map((i) => i.value);
  const purpose = $('consent-purpose').value;
  const expires = $('consent-expires').value;
  if (!client) return;
  if (services.length === 0) {
    showError(tr('consents.pickService'), '');
    const first = $('consent-services').querySelector('input');
    if (first) first.focus();
    return;
  }
  if (!isDate(expires) || expires < addDays(almatyToday(), 1)) {
    showError(tr('consents.pickDate'), '');
    $('consent-expires').focus();
    return;
  }
  const button = $('consent-grant');
  button.disabled = true;
  try {
    const { data } = await api('/v1/space/consents', {
      method: 'POST', body: { client, services, purpose, expires: dayEnd(expires) },
    });
    showStatus(['consents.granted', { id: str(data && data.id) }]);
    for (const i of $('consent-services').querySelectorAll('input')) i.checked = false;
    state.eventsStale = true;
    await loadConsents();
  } catch (err) {
    showProblem(err);
  } finally {
    button.disabled = state.options.length === 0;
  }
}

async function loadConsents() {
  try {
    const { data } = await api('/v1/space/consents');
    state.consents = Array.isArray(data && data.consents)
      ? data.consents.filter((c) => c && typeof c === 'object')
      : [];
    renderConsents();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) showProblem(err);
  }
}

function renderConsents() {
  const body = $('consents-body');
  body.replaceChildren();
  for (const c of state.consents) body.append(consentRow(c));
  $('consents-empty').hidden = state.consents.length > 0;
}

function consentRow(c) {
  const row = document.createElement('tr');
  row.dataset.testid = 'consent-row';
  const id = str(c.id);
  row.dataset.consentId = id;
  row.dataset.state = str(c.state);
  row.dataset.client = str(c.client);

  const client = cell('client', row);
  client.dataset.label = tr('consents.col.client');
  line(client, name(c.clientName, str(c.client)), 'name');
  line(client, str(c.client), 'id');

  const services = cell('services', row);
  services.dataset.label = tr('consents.col.services');
  const names = new Map((Array.isArray(c.serviceNames) ? c.serviceNames : [])
    .filter((s) => s && typeof s.id === 'string').map((s) => [s.id, s.name]));
  for (const s of Array.isArray(c.services) ? c.services : []) line(services, name(names.get(s), str(s)), 'name');

  const purpose = cell('purpose', row);
  purpose.dataset.label = tr('consents.col.purpose');
  line(purpose, name(c.purposeText, str(c.purpose)), 'name');

  const granted = cell('granted', row);
  granted.dataset.label = tr('consents.col.granted');
  line(granted, formatLocalTime(c.grantedAt, state.lang) || str(c.grantedAt));

  const expires = cell('expires', row);
  expires.dataset.label = tr('consents.col.expires');
  line(expires, formatLocalTime(c.expires, state.lang) || str(c.expires));

  const st = cell('state', row);
  st.dataset.label = tr('consents.col.state');
  line(st, tCode(state.lang, 'consents.state', c.state), `name state-${/^[A-Z]+$/.test(str(c.state)) ? str(c.state).toLowerCase() : 'other'}`);
  if (c.revokedAt) line(st, tr('consents.revokedAt', { time: formatLocalTime(c.revokedAt, state.lang) || str(c.revokedAt) }), 'meta');

  const actions = cell('actions', row);
  actions.dataset.label = tr('consents.col.actions');
  if (c.state === 'ACTIVE') {
    if (state.confirming === id) {
      line(actions, tr('consents.revokeAsk'), 'meta');
      const confirm = button(tr('consents.revokeConfirm'), 'btn btn-danger', 'consent-revoke-confirm');
      confirm.addEventListener('click', () => revokeConsent(id, confirm));
      const cancel = button(tr('consents.revokeCancel'), 'btn', 'consent-revoke-cancel');
      cancel.addEventListener('click', () => {
        state.confirming = null;
        renderConsents();
        focusRevoke(id);
      });
      actions.append(confirm, cancel);
    } else {
      const revoke = button(tr('consents.revoke'), 'btn', 'consent-revoke');
      revoke.addEventListener('click', () => {
        state.confirming = id;
        renderConsents();
        const again = findConsentRow(id);
        const b = again && again.querySelector('[data-testid="consent-revoke-confirm"]');
        if (b) b.focus();
      });
      actions.append(revoke);
    }
  }
  return row;
}

function button(text, cls, testid) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = cls;
  b.textContent = text;
  b.dataset.testid = testid;
  return b;
}

function findConsentRow(id) {
  return [...$('consents-body').querySelectorAll('tr')].find((r) => r.dataset.consentId === id) ?? null;
}

function focusRevoke(id) {
  const row = findConsentRow(id);
  const b = row && row.querySelector('[data-testid="consent-revoke"]');
  if (b) b.focus();
}

async function revokeConsent(id, confirmButton) {
  confirmButton.disabled = true;
  clearError();
  try {
    await api(`/v1/space/consents/${encodeURIComponent(id)}`, { method: 'DELETE' });
    state.confirming = null;
    showStatus(['consents.revoked']);
    state.eventsStale = true;
    await loadConsents();
  } catch (err) {
    confirmButton.disabled = false;
    showProblem(err);
  }
}

// ---------------------------------------------------------------- start

function wire() {
  for (const b of document.querySelectorAll('.lang-btn')) {
    b.addEventListener('click', () => setLang(b.dataset.lang));
  }
  $('demo-login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  for (const id of TABS) $(id).addEventListener('click', () => selectTab(id, false));
  $('tabs').addEventListener('keydown', onTabKey);
  $('filters').addEventListener('submit', applyFilters);
  $('reset-filters').addEventListener('click', resetFilters);
  $('refresh').addEventListener('click', () => {
    clearError();
    // Proofs that could not be fetched, and events not yet covered by a checkpoint, are tried again.
    for (const [id, r] of state.results) {
      if (r.check === 'proof' || r.check === 'covered') {
        state.results.delete(id);
        state.verifications.delete(id);
      }
    }
    loadFirstPage();
  });
  $('next-page').addEventListener('click', () => {
    if (!state.nextCursor) return;
    state.cursors.push(state.nextCursor);
    loadPage();
  });
  $('prev-page').addEventListener('click', () => {
    if (state.cursors.length <= 1) return;
    state.cursors.pop();
    loadPage();
  });
  $('download-csv').addEventListener('click', downloadCsv);
  $('consent-client').addEventListener('change', renderConsentChoices);
  $('consent-form').addEventListener('submit', grantConsent);
  // A hand-over into an already open page (same document, only the fragment changes).
  window.addEventListener('hashchange', () => {
    const token = takeFragmentToken();
    if (!token) return;
    dropSession();
    clearError();
    saveSession(token, tokenSubject(token));
    showApp();
  });
}

function start() {
  state.lang = storedLang();
  if (!DICT[state.lang]) state.lang = DEFAULT_LANG;
  wire();
  applyStaticText();
  renderKindOptions();
  renderFilterOptions();
  const fragment = takeFragmentToken();
  if (fragment) saveSession(fragment, tokenSubject(fragment));
  else {
    const token = readToken();
    if (token) {
      state.token = token;
      let subject = '';
      try {
        subject = sessionStorage.getItem(SUBJECT_KEY) ?? '';
      } catch {
        subject = '';
      }
      state.subject = subject || tokenSubject(token);
    }
  }
  if (state.token) showApp();
  else showLogin();
}

start();
