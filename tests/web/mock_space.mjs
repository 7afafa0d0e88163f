// A stand-in for the gateway's space listener, for looking at the page without a gateway
// (development only; the real thing is tested in tests/browser). Serves web/space/ with the
// gateway's CSP and answers the docs/space.md routes from memory, with real hash chains and
// ECDSA P-256-signed checkpoints, so the page's badges verify.
//   node tests/web/mock_space.mjs [port]   then open http://127.0.0.1:<port>/space/
// Test hooks: an event whose message id is "tampered" is served with a changed status (the badge
// must fail); the newest event is not covered by a checkpoint (unverifiable).
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { webcrypto, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';

import { encodeEvent, encodeCheckpoint, concat } from './pbwriter.mjs';
import { base64Encode } from '../../web/space/verify.js';

const subtle = webcrypto.subtle;
const port = Number(process.argv[2] ?? 8093);
const root = fileURLToPath(new URL('../../web/space/', import.meta.url));
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const key = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
const jwk = await subtle.exportKey('jwk', key.publicKey);
const JWKS = { keys: [{ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid: 'kz-qaqpa-demo-1', alg: 'ES256', use: 'sig' }] };

const L = (kk, ru, en) => ({ kk, ru, en });
const SYSTEMS = {
  bank: { id: 'KZ/COM/990340000014/bank-core', name: L('Банктің автоматтандырылған жүйесі (демо)', 'Автоматизированная банковская система (демо)', 'Core banking system (demo)') },
  tax: { id: 'KZ/GOV/240140000021/tax-service', name: L('Мемлекеттік кірістер органдарының салық жүйесі', 'Налоговая система органов государственных доходов', 'Tax system of the state revenue bodies') },
  pop: { id: 'KZ/GOV/240140000011/population-register', name: L('Жеке тұлғалардың мемлекеттік деректер қоры', 'Государственная база данных «Физические лица»', 'State database of individuals (population register)') },
  social: { id: 'KZ/GOV/240140000031/social-benefits', name: L('Әлеуметтік төлемдер жүйесі', 'Система социальных выплат', 'Social benefits system') },
};
const PERSON = { id: 'person.byIin', name: L('ЖСН бойынша жеке тұлға туралы мәліметтер', 'Сведения о физическом лице по ИИН', 'Person details by IIN') };
const TAXDEBT = { id: 'tax.debtStatus', name: L('Салық берешегінің болуы', 'Наличие налоговой задолженности', 'Tax debt status') };
const PURPOSES = {
  CREDIT_SCORING: L('Кредиттік скоринг (қарыз алушының төлем қабілеттілігін бағалау)', 'Кредитный скоринг (оценка платёжеспособности заёмщика)', "Credit scoring (assessing a borrower's creditworthiness)"),
  TAX_ADMINISTRATION: L('Салықтық әкімшілендіру', 'Налоговое администрирование', 'Tax administration'),
  SOCIAL_BENEFITS: L('Әлеуметтік төлемдерді тағайындау және төлеу', 'Назначение и выплата социальных пособий', 'Granting and paying social benefits'),
};
const CITIZENS = ['IIN:900101300017', 'IIN:850506400003', 'IIN:920315450126'];

const events = []; // oldest first; {json, canonical, prev, hash}
const checkpoints = []; // {firstSeq, lastSeq, json, canonical}
let head = new Uint8Array(32);
const consents = [];

const sha256 = async (b) => new Uint8Array(await subtle.digest('SHA-256', b));

async function append(fields) {
  const seq = events.length + 1;
  const now = Date.now() - (40 - seq) * 3600_000;
  const f = { nodeId: 'kz-qaqpa-demo-1', eventId: randomUUID(), seq, timeSeconds: Math.floor(now / 1000), timeNanos: (now % 1000) * 1e6, prevHashBytes: head, ...fields };
  const canonical = encodeEvent(f);
  const hash = await sha256(concat(head, canonical));
  const json = {
    eventId: f.eventId, nodeId: f.nodeId, seq, time: new Date(f.timeSeconds * 1000 + f.timeNanos / 1e6).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z'),
    zone: f.zone, kind: f.kind, client: f.client, provider: f.provider, service: f.service, subject: f.subject,
    actor: f.actor, purpose: f.purpose, consentId: f.consentId, messageId: f.messageId, status: f.status,
    httpStatus: f.httpStatus, reason: f.reason, prevHash: base64Encode(head), hash: base64Encode(hash),
  };
  for (const k of Object.keys(json)) if (json[k] === undefined) delete json[k];
  events.push({ json, canonical, prev: head, hash });
  head = hash;
  return json;
}

async function checkpoint() {
  const firstSeq = checkpoints.length ? checkpoints[checkpoints.length - 1].lastSeq + 1 : 1;
  const lastSeq = events.length;
  if (lastSeq < firstSeq) return;
  const cp = { nodeId: 'kz-qaqpa-demo-1', firstSeq, lastSeq, chainHead: head, timeSeconds: Math.floor(Date.now() / 1000), keyId: 'kz-qaqpa-demo-1', algorithm: 'ecdsa-p256-sha256' };
  const canonical = encodeCheckpoint(cp);
  const sig = new Uint8Array(await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, canonical));
  checkpoints.push({ firstSeq, lastSeq, canonical, json: { nodeId: cp.nodeId, firstSeq, lastSeq, chainHead: base64Encode(head), time: new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z'), keyId: cp.keyId, algorithm: cp.algorithm, signature: base64Encode(sig) } });
}

for (let i = 0; i < 60; i++) {
  const subject = CITIZENS[i % 2];
  const kinds = [
    { zone: 'STATE', kind: 'DATA_ACCESS', client: SYSTEMS.tax, provider: SYSTEMS.pop, service: PERSON, purpose: { code: 'TAX_ADMINISTRATION', text: PURPOSES.TAX_ADMINISTRATION }, status: 'OK', httpStatus: 200 },
    { zone: 'EXTERNAL', kind: 'ACCESS_DENIED', client: SYSTEMS.bank, provider: SYSTEMS.pop, service: PERSON, purpose: { code: 'CREDIT_SCORING', text: PURPOSES.CREDIT_SCORING }, status: 'CONSENT_REQUIRED', httpStatus: 403, reason: 'CONSENT_MISSING' },
    { zone: 'STATE', kind: 'DATA_ACCESS', client: SYSTEMS.social, provider: SYSTEMS.tax, service: TAXDEBT, purpose: { code: 'SOCIAL_BENEFITS', text: PURPOSES.SOCIAL_BENEFITS }, status: 'OK', httpStatus: 200, messageId: i === 8 ? 'tampered' : undefined },
  ];
  await append({ subject, messageId: `m-${i}`, ...kinds[i % 3] });
  if (i % 5 === 4) await checkpoint();
}
await checkpoint();
await append({ subject: CITIZENS[0], zone: 'STATE', kind: 'DATA_ACCESS', client: SYSTEMS.tax, provider: SYSTEMS.pop, service: PERSON, purpose: { code: 'TAX_ADMINISTRATION', text: PURPOSES.TAX_ADMINISTRATION }, status: 'OK', httpStatus: 200, messageId: 'uncovered' });

function shown(e) {
  if (e.json.messageId === 'tampered') return { ...e.json, status: 'ACCESS_DENIED' };
  return e.json;
}

function problem(res, status, code, title, detail, extra = {}) {
  send(res, status, { type: `urn:qaqpa:status:${code}`, title, status, code, detail, ...extra }, 'application/problem+json', status === 401 ? { 'WWW-Authenticate': 'Bearer realm="qaqpa-space"' } : {});
}

function send(res, status, body, type = 'application/json', headers = {}) {
  const data = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', 'X-Frame-Options': 'DENY', ...headers });
  res.end(data);
}

const tokens = new Map(); // token -> subject
function subjectOf(req) {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  return m ? tokens.get(m[1]) : undefined;
}

async function body(req) {
  let s = '';
  for await (const c of req) s += c;
  return JSON.parse(s || '{}');
}

const MIME = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const p = url.pathname;
  try {
    if (p === '/space') return send(res, 301, '', 'text/plain', { Location: '/space/' });
    if (p.startsWith('/space/')) {
      const file = p === '/space/' ? 'index.html' : p.slice(7);
      if (!/^[a-z0-9_-]+\.(html|js|css)$/.test(file)) return send(res, 404, 'not found', 'text/plain');
      return send(res, 200, readFileSync(root + file), MIME[file.split('.').pop()], { 'Content-Security-Policy': CSP });
    }
    if (p === '/v1/keys') return send(res, 200, JWKS);
    if (p === '/v1/space/demo-login') {
      if (req.method === 'GET') return send(res, 200, { citizens: CITIZENS });
      const { iin } = await body(req);
      const subject = String(iin).startsWith('IIN:') ? iin : `IIN:${iin}`;
      if (!CITIZENS.includes(subject)) return problem(res, 403, 'ACCESS_DENIED', 'Access denied', 'not a demo citizen');
      const b64u = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const token = `${b64u({ alg: 'ES256', typ: 'JWT' })}.${b64u({ sub: subject, aud: 'qaqpa-space' })}.${randomUUID().replace(/-/g, '')}`;
      tokens.set(token, subject);
      return send(res, 200, { token, tokenType: 'Bearer', expiresIn: 3600, subject });
    }
    if (!p.startsWith('/v1/space/')) return send(res, 404, 'not found', 'text/plain');
    const subject = subjectOf(req);
    const lang = req.headers['accept-language'] ?? 'kk';
    if (!subject) {
      return problem(res, 401, 'AUTH_FAILED', lang === 'en' ? 'Authentication failed' : lang === 'ru' ? 'Ошибка аутентификации' : 'Аутентификация сәтсіз',
        lang === 'en' ? 'The token is missing or invalid.' : lang === 'ru' ? 'Токен отсутствует или недействителен.' : 'Токен жоқ немесе жарамсыз.', { reason: 'TOKEN_MISSING' });
    }
    const mine = events.filter((e) => e.json.subject === subject).reverse();
    const filtered = () => mine.filter((e) => {
      const q = url.searchParams;
      if (q.get('kind') && e.json.kind !== q.get('kind')) return false;
      if (q.get('client') && e.json.client?.id !== q.get('client')) return false;
      if (q.get('service') && e.json.service?.id !== q.get('service')) return false;
      if (q.get('since') && new Date(e.json.time) < new Date(q.get('since'))) return false;
      if (q.get('until') && new Date(e.json.time) >= new Date(q.get('until'))) return false;
      return true;
    });
    if (p === '/v1/space/events') {
      const limit = Number(url.searchParams.get('limit') ?? 50);
      const cursor = url.searchParams.get('cursor');
      let list = filtered();
      if (cursor) list = list.filter((e) => e.json.seq < Number(cursor));
      const page = list.slice(0, limit);
      const out = { events: page.map(shown) };
      if (list.length > limit) out.nextCursor = String(page[page.length - 1].json.seq);
      return send(res, 200, out);
    }
    if (p === '/v1/space/events.csv') {
      const rows = filtered().map((e) => [e.json.time, e.json.kind, e.json.client?.id, e.json.status].map((c) => `"${c}"`).join(','));
      return send(res, 200, `\ufeff"time","kind","client","status"\r\n${rows.join('\r\n')}\r\n`, 'text/csv; charset=utf-8; header=present', { 'Content-Disposition': 'attachment; filename="qaqpa-events-20261123.csv"' });
    }
    const m = /^\/v1\/space\/events\/([0-9a-f-]{1,64})$/.exec(p);
    if (m) {
      const e = mine.find((x) => x.json.eventId === m[1]);
      if (!e) return problem(res, 404, 'SERVICE_NOT_FOUND', 'Not found', 'no such event', { reason: 'EVENT_NOT_FOUND' });
      const cp = checkpoints.find((c) => c.firstSeq <= e.json.seq && e.json.seq <= c.lastSeq);
      const proof = { canonical: base64Encode(e.canonical), prevHash: base64Encode(e.prev), hash: base64Encode(e.hash), covered: !!cp };
      if (cp) Object.assign(proof, { checkpoint: cp.json, checkpointCanonical: base64Encode(cp.canonical) });
      return send(res, 200, { event: shown(e), proof });
    }
    if (p === '/v1/space/consent-options') {
      return send(res, 200, { options: [{ client: SYSTEMS.bank, services: [PERSON], purposes: [{ code: 'CREDIT_SCORING', text: PURPOSES.CREDIT_SCORING }] }] });
    }
    if (p === '/v1/space/consents' && req.method === 'GET') {
      return send(res, 200, { consents: consents.filter((c) => c.subject === subject).slice().reverse() });
    }
    if (p === '/v1/space/consents' && req.method === 'POST') {
      const b = await body(req);
      if (!b.services?.length) return problem(res, 400, 'VALIDATION_FAILED', 'Invalid request', 'services: at least one', { reason: 'FIELD_INVALID' });
      const c = { id: randomUUID(), subject, client: b.client, clientName: SYSTEMS.bank.name, services: b.services, serviceNames: [{ id: PERSON.id, name: PERSON.name }], purpose: b.purpose, purposeText: PURPOSES[b.purpose], grantedAt: new Date().toISOString(), expires: new Date(b.expires).toISOString(), grantedBy: subject, state: 'ACTIVE' };
      consents.push(c);
      await append({ subject, zone: 'SPACE', kind: 'CONSENT_GRANTED', client: SYSTEMS.bank, service: PERSON, actor: subject, consentId: c.id, purpose: { code: b.purpose, text: PURPOSES[b.purpose] }, status: 'OK' });
      return send(res, 201, c);
    }
    const d = /^\/v1\/space\/consents\/([^/]+)$/.exec(p);
    if (d && req.method === 'DELETE') {
      const c = consents.find((x) => x.id === d[1] && x.subject === subject);
      if (!c) return problem(res, 404, 'SERVICE_NOT_FOUND', 'Not found', 'no such consent', { reason: 'CONSENT_ID_UNKNOWN' });
      if (c.state !== 'REVOKED') {
        c.state = 'REVOKED';
        c.revokedAt = new Date().toISOString();
        await append({ subject, zone: 'SPACE', kind: 'CONSENT_REVOKED', client: SYSTEMS.bank, service: PERSON, actor: subject, consentId: c.id, status: 'OK' });
      }
      return send(res, 200, c);
    }
    return send(res, 404, 'not found', 'text/plain');
  } catch (e) {
    console.error(e);
    problem(res, 500, 'INTERNAL', 'Internal', String(e.message));
  }
}).listen(port, '127.0.0.1', () => console.log(`mock space listener on http://127.0.0.1:${port}/space/`));
