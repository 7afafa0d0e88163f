// Small pure helpers of the page (no DOM): names in the current language, Asia/Almaty times and
// dates, query strings, a concurrency limiter. Node tests them.

export const TIME_ZONE = 'Asia/Almaty';
// docs/space.md: the page's dates are Asia/Almaty dates, UTC+05:00 (the CSV says the same).
export const ALMATY_OFFSET = '+05:00';

const LOCALES = { kk: 'kk-KZ', ru: 'ru-RU', en: 'en-GB' };
const FALLBACK = { kk: ['kk', 'ru', 'en'], ru: ['ru', 'kk', 'en'], en: ['en', 'ru', 'kk'] };

// A LocalizedText {kk, ru, en} in `lang`, else another language, else `id`, else "".
export function pickText(text, lang, id) {
  if (text && typeof text === 'object') {
    for (const l of FALLBACK[lang] ?? FALLBACK.kk) {
      if (typeof text[l] === 'string' && text[l] !== '') return text[l];
    }
  }
  return typeof id === 'string' ? id : '';
}

const formatters = new Map();
function formatter(lang) {
  if (!formatters.has(lang)) {
    formatters.set(lang, new Intl.DateTimeFormat(LOCALES[lang] ?? LOCALES.kk, {
      timeZone: TIME_ZONE,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    }));
  }
  return formatters.get(lang);
}

// An RFC 3339 time as local Asia/Almaty time in `lang`'s conventions; "" when unparsable.
export function formatLocalTime(iso, lang) {
  if (typeof iso !== 'string') return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return formatter(lang).format(d);
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isDate(s) {
  if (typeof s !== 'string' || !DATE_RE.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

// "2026-11-23" -> "2026-11-24" (calendar arithmetic, no time zone involved).
export function addDays(date, days) {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

// Today's date in Almaty ("YYYY-MM-DD").
export function almatyToday(now = new Date()) {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit',
  }).formatToParts(now);
  const get = (t) => parts.find((p) => p.type === t).value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

// The `since`/`until` API values for the date inputs: since = start of the `since` day, until =
// start of the day after `until` (both days included), Almaty time.
export function dayStart(date) {
  return `${date}T00:00:00${ALMATY_OFFSET}`;
}
export function dayAfter(date) {
  return dayStart(addDays(date, 1));
}
// A consent expiring at the end of `date` (Almaty).
export function dayEnd(date) {
  return `${date}T23:59:59${ALMATY_OFFSET}`;
}

// The event-list query for filters {kind, service, client, since, until} (dates "YYYY-MM-DD" or
// ""), plus `extra` (limit, cursor). Empty values are left out: the API refuses empty parameters.
export function eventsQuery(filters, extra = {}) {
  const q = new URLSearchParams();
  if (filters.since) q.set('since', dayStart(filters.since));
  if (filters.until) q.set('until', dayAfter(filters.until));
  if (filters.service) q.set('service', filters.service);
  if (filters.client) q.set('client', filters.client);
  if (filters.kind) q.set('kind', filters.kind);
  for (const [k, v] of Object.entries(extra)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// filename="…" of a Content-Disposition header, if it is a plain safe name.
export function dispositionFilename(header, fallback) {
  const m = /filename="([A-Za-z0-9._-]{1,100})"/.exec(header ?? '');
  return m ? m[1] : fallback;
}

// The `sub` claim of a JWT, for display only (the gateway checks the token, not the page).
export function tokenSubject(token) {
  try {
    const part = token.split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const json = new TextDecoder().decode(
      Uint8Array.from(atob(b64 + '==='.slice((b64.length + 3) % 4)), (c) => c.charCodeAt(0)));
    const sub = JSON.parse(json).sub;
    return typeof sub === 'string' ? sub : '';
  } catch {
    return '';
  }
}

// Runs at most `n` tasks (functions returning promises) at once.
export function createLimiter(n) {
  let active = 0;
  const queue = [];
  const next = () => {
    if (active >= n || queue.length === 0) return;
    active++;
    const { task, resolve, reject } = queue.shift();
    Promise.resolve()
      .then(task)
      .then(resolve, reject)
      .finally(() => {
        active--;
        next();
      });
  };
  return (task) => new Promise((resolve, reject) => {
    queue.push({ task, resolve, reject });
    next();
  });
}
