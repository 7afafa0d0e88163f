// The integrity check behind the "verified" badge (docs/space.md, "Events"). Pure: it is given
// the event as listed, the proof from GET /v1/space/events/{id}, a key ring built from
// GET /v1/keys and a WebCrypto SubtleCrypto; no DOM, no network — Node tests it with real keys.
//
// What a "verified" result proves, and what it does not: see web/space/README.md.

import { decodeDigitalEvent, decodeCheckpoint } from './protobuf.js';

export const STATE = Object.freeze({
  PENDING: 'pending',
  VERIFIED: 'verified',
  FAILED: 'failed',
  UNVERIFIABLE: 'unverifiable',
});

// The checks, in order. Each result names the first check that did not pass.
export const CHECK = Object.freeze({
  FIELDS: 'fields', // the canonical bytes decode and say what the page shows
  HASH: 'hash', // SHA-256(prevHash ‖ canonical) = hash
  COVERED: 'covered', // a signed checkpoint covers the event
  CHECKPOINT: 'checkpoint', // the checkpoint bytes decode and match its JSON
  RANGE: 'range', // firstSeq ≤ seq ≤ lastSeq, same node
  KEY: 'key', // the checkpoint's key is published in /v1/keys
  ALGORITHM: 'algorithm', // this browser can check that algorithm
  SIGNATURE: 'signature', // the checkpoint signature verifies
  CHAIN_HEAD: 'chainHead', // seq = lastSeq ⇒ chainHead = hash
});

// journal.proto enum names, by number.
export const ZONE_NAMES = ['ZONE_UNSPECIFIED', 'STATE', 'EXTERNAL', 'INTERNATIONAL', 'SPACE', 'ADMIN'];
export const KIND_NAMES = [
  'KIND_UNSPECIFIED',
  'DATA_ACCESS',
  'ACCESS_DENIED',
  'DELIVERY_FAILED',
  'CONSENT_GRANTED',
  'CONSENT_REVOKED',
  'INTERNATIONAL_TRANSFER',
  'POLICY_CHANGED',
  'OPERATOR_ACCESS',
  'MESSAGE_ACCEPTED',
];

// ---- base64 (standard alphabet, padding required: RFC 4648 §4) ----

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

export function base64Decode(text) {
  if (typeof text !== 'string' || text.length % 4 !== 0) throw new Error('invalid base64');
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const q = [0, 0, 0, 0];
    for (let j = 0; j < 4; j++) {
      const c = text[i + j];
      if (c === '=' && i + 4 === text.length && j >= 4 - pad) continue;
      const v = B64_INDEX.get(c);
      if (v === undefined) throw new Error('invalid base64');
      q[j] = v;
    }
    const n = (q[0] << 18) | (q[1] << 12) | (q[2] << 6) | q[3];
    if (o < out.length) out[o++] = (n >> 16) & 0xff;
    if (o < out.length) out[o++] = (n >> 8) & 0xff;
    if (o < out.length) out[o++] = n & 0xff;
  }
  return out;
}

export function base64Encode(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    s += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
    s += i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=';
    s += i + 2 < bytes.length ? B64[n & 63] : '=';
  }
  return s;
}

export function bytesEqual(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

// ---- the JSON projection of decoded bytes (gateway/audit/event_json.h) ----

// event_json's time: RFC 3339 UTC, exactly six fractional digits, clamped to years 0001..9999.
export function formatTime(seconds, nanos) {
  const min = -62135596800n;
  const max = 253402300799n;
  let s = BigInt(seconds ?? 0n);
  if (s < min) s = min;
  if (s > max) s = max;
  const n = Math.min(Math.max(Number(nanos ?? 0), 0), 999999999);
  const iso = new Date(Number(s) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z for 0001..9999
  const micros = String(Math.floor(n / 1000)).padStart(6, '0');
  return `${iso.slice(0, 19)}.${micros}Z`;
}

function omitEmpty(o) {
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (v === undefined || v === '' || v === 0 || (typeof v === 'object' && v !== null &&
        !Array.isArray(v) && Object.keys(v).length === 0) || (Array.isArray(v) && v.length === 0)) {
      delete o[k];
    }
  }
  return o;
}

const localized = (t) => (t ? omitEmpty({ kk: t.kk, ru: t.ru, en: t.en }) : undefined);
const party = (p) => (p ? omitEmpty({ id: p.id, name: localized(p.name) }) : undefined);
const enumName = (names, v) => (v === undefined || v === 0 ? undefined : names[v] ?? v);
// uint64 values as JSON numbers (what JSON.parse makes of the gateway's exact integers).
const num = (v) => (v === undefined ? undefined : Number(v));

// The event object the gateway would emit for these decoded fields, without `hash` (the
// canonical bytes are the event with hash unset). prevHash is compared as bytes separately.
export function projectEvent(d) {
  const hasTime = d.time && (BigInt(d.time.seconds ?? 0n) !== 0n || (d.time.nanos ?? 0) !== 0);
  return omitEmpty({
    eventId: d.eventId,
    nodeId: d.nodeId,
    seq: num(d.seq),
    time: hasTime ? formatTime(d.time.seconds ?? 0n, d.time.nanos ?? 0) : undefined,
    zone: enumName(ZONE_NAMES, d.zone),
    kind: enumName(KIND_NAMES, d.kind),
    client: party(d.client),
    provider: party(d.provider),
    service: party(d.service),
    subject: d.subject,
    actor: d.actor,
    purpose: d.purpose ? omitEmpty({ code: d.purpose.code, text: localized(d.purpose.text) }) : undefined,
    consentId: d.consentId,
    messageId: d.messageId,
    correlationId: d.correlationId,
    status: d.status,
    httpStatus: d.httpStatus,
    latencyUs: num(d.latencyUs),
    requestDigest: d.requestDigest,
    responseDigest: d.responseDigest,
    dataCategories: d.dataCategories,
    country: d.country,
    reason: d.reason,
    operatorReason: d.operatorReason,
    detail: d.detail,
  });
}

// The keys of the event JSON that the canonical bytes decide (everything but the hashes).
export const EVENT_KEYS = [
  'eventId', 'nodeId', 'seq', 'time', 'zone', 'kind', 'client', 'provider', 'service', 'subject',
  'actor', 'purpose', 'consentId', 'messageId', 'correlationId', 'status', 'httpStatus',
  'latencyUs', 'requestDigest', 'responseDigest', 'dataCategories', 'country', 'reason',
  'operatorReason', 'detail',
];

function sameJson(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && sameJson(a[k], b[k]));
}

// The keys the page shows (or builds its row from): compared both ways — a value in the bytes
// that the JSON lacks is a difference too. The other keys are compared when the JSON has them
// (an API may leave out what it does not show; it may never show something else).
export const SHOWN_KEYS = [
  'eventId', 'nodeId', 'seq', 'time', 'zone', 'kind', 'client', 'provider', 'service', 'subject',
  'actor', 'purpose', 'status', 'country',
];

// The first event key whose value differs from the decoded bytes, or null. Keys the projection
// does not know (none today) are ignored rather than failing the check.
export function firstMismatch(projected, event) {
  for (const key of EVENT_KEYS) {
    const present = Object.prototype.hasOwnProperty.call(event, key);
    if (!present && !SHOWN_KEYS.includes(key)) continue;
    if (!sameJson(projected[key], event[key])) return key;
  }
  return null;
}

// ---- keys (GET /v1/keys) ----

const ALGORITHMS = {
  'ecdsa-p256-sha256': {
    kty: 'EC',
    crv: 'P-256',
    importParams: { name: 'ECDSA', namedCurve: 'P-256' },
    verifyParams: { name: 'ECDSA', hash: 'SHA-256' },
    signatureLength: 64,
  },
  ed25519: {
    kty: 'OKP',
    crv: 'Ed25519',
    importParams: { name: 'Ed25519' },
    verifyParams: { name: 'Ed25519' },
    signatureLength: 64,
  },
};

// Imports the JWKS keys lazily, once each. get(kid, algorithm) resolves to
// {key} | {missing: true} | {mismatch: true} | {unsupported: true}.
export class KeyRing {
  constructor(jwks, subtle) {
    this.subtle = subtle;
    this.jwks = new Map();
    for (const k of (jwks && Array.isArray(jwks.keys) ? jwks.keys : [])) {
      if (k && typeof k.kid === 'string' && !this.jwks.has(k.kid)) this.jwks.set(k.kid, k);
    }
    this.imported = new Map();
  }

  async get(kid, algorithm) {
    const jwk = this.jwks.get(kid);
    if (!jwk) return { missing: true };
    const alg = ALGORITHMS[algorithm];
    if (!alg) return { unsupported: true };
    if (jwk.kty !== alg.kty || jwk.crv !== alg.crv) return { mismatch: true };
    const cacheKey = `${kid}\u0000${algorithm}`;
    if (!this.imported.has(cacheKey)) {
      const pub = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, ext: true };
      if (jwk.kty === 'EC') pub.y = jwk.y;
      this.imported.set(
        cacheKey,
        this.subtle.importKey('jwk', pub, alg.importParams, false, ['verify']).then(
          (key) => ({ key, alg }),
          (e) => (e && e.name === 'NotSupportedError' ? { unsupported: true } : { mismatch: true }),
        ),
      );
    }
    return this.imported.get(cacheKey);
  }
}

// ---- the verifier ----

function result(state, check, note) {
  return { state, check: check ?? null, note: note ?? null };
}

function decodeB64(value) {
  if (typeof value !== 'string') return null;
  try {
    return base64Decode(value);
  } catch {
    return null;
  }
}

// Checks `proof` for `event` (the row's event JSON). Resolves to {state, check, note}: `check` is
// the first check that failed or could not be done (null when verified); `note` a detail in
// English for logs and tests (the page shows localized text by `check`). Never rejects.
export async function verifyEvent({ event, proof, keys, subtle }) {
  try {
    return await verifyInner(event, proof, keys, subtle);
  } catch (e) {
    return result(STATE.FAILED, CHECK.FIELDS, `unexpected: ${e && e.message}`);
  }
}

async function verifyInner(event, proof, keys, subtle) {
  if (!event || typeof event !== 'object' || !proof || typeof proof !== 'object') {
    return result(STATE.FAILED, CHECK.FIELDS, 'no event or proof');
  }
  // 1. The canonical bytes decode and are the event shown.
  const canonical = decodeB64(proof.canonical);
  if (!canonical) return result(STATE.FAILED, CHECK.FIELDS, 'canonical is not base64');
  let decoded;
  try {
    decoded = decodeDigitalEvent(canonical);
  } catch (e) {
    return result(STATE.FAILED, CHECK.FIELDS, `canonical does not decode: ${e.message}`);
  }
  if (decoded.hash !== undefined) return result(STATE.FAILED, CHECK.FIELDS, 'canonical carries a hash');
  const mismatch = firstMismatch(projectEvent(decoded), event);
  if (mismatch) return result(STATE.FAILED, CHECK.FIELDS, `field ${mismatch} differs from the bytes`);

  // 2. The hash chain link: SHA-256(prevHash ‖ canonical) = hash, the same hash everywhere.
  const prev = decodeB64(proof.prevHash);
  const hash = decodeB64(proof.hash);
  if (!prev || !hash) return result(STATE.FAILED, CHECK.HASH, 'prevHash or hash is not base64');
  if (!bytesEqual(prev, decoded.prevHash ?? new Uint8Array(0)) ||
      !bytesEqual(prev, decodeB64(event.prevHash) ?? new Uint8Array(1))) {
    return result(STATE.FAILED, CHECK.HASH, 'prevHash differs between the bytes, the proof and the event');
  }
  if (!bytesEqual(hash, decodeB64(event.hash) ?? new Uint8Array(0))) {
    return result(STATE.FAILED, CHECK.HASH, 'the proof hash is not the event hash');
  }
  const input = new Uint8Array(prev.length + canonical.length);
  input.set(prev, 0);
  input.set(canonical, prev.length);
  const digest = new Uint8Array(await subtle.digest('SHA-256', input));
  if (!bytesEqual(digest, hash)) return result(STATE.FAILED, CHECK.HASH, 'SHA-256(prevHash ‖ canonical) ≠ hash');

  // 3. The signed checkpoint.
  if (proof.covered === false) return result(STATE.UNVERIFIABLE, CHECK.COVERED, 'not covered by a signed checkpoint yet');
  const cp = proof.checkpoint;
  const cpBytes = decodeB64(proof.checkpointCanonical);
  if (!cp || typeof cp !== 'object' || !cpBytes) {
    return result(STATE.FAILED, CHECK.CHECKPOINT, 'checkpoint missing');
  }
  let c;
  try {
    c = decodeCheckpoint(cpBytes);
  } catch (e) {
    return result(STATE.FAILED, CHECK.CHECKPOINT, `checkpoint does not decode: ${e.message}`);
  }
  if (c.signature !== undefined) return result(STATE.FAILED, CHECK.CHECKPOINT, 'checkpoint bytes carry the signature');
  const first = c.firstSeq ?? 0n;
  const last = c.lastSeq ?? 0n;
  const head = c.chainHead ?? new Uint8Array(0);
  if ((c.nodeId ?? '') !== (cp.nodeId ?? '') || Number(first) !== (cp.firstSeq ?? 0) ||
      Number(last) !== (cp.lastSeq ?? 0) || (c.keyId ?? '') !== (cp.keyId ?? '') ||
      (c.algorithm ?? '') !== (cp.algorithm ?? '') ||
      !bytesEqual(head, decodeB64(cp.chainHead ?? '') ?? new Uint8Array(1))) {
    return result(STATE.FAILED, CHECK.CHECKPOINT, 'checkpoint JSON differs from its bytes');
  }
  const seq = decoded.seq ?? 0n;
  if ((c.nodeId ?? '') !== (decoded.nodeId ?? '') || seq < first || seq > last) {
    return result(STATE.FAILED, CHECK.RANGE, `seq ${seq} outside ${first}..${last} of node ${c.nodeId}`);
  }
  const found = await keys.get(c.keyId ?? '', c.algorithm ?? '');
  if (found.missing) return result(STATE.UNVERIFIABLE, CHECK.KEY, `key ${c.keyId} not in /v1/keys`);
  if (found.unsupported) return result(STATE.UNVERIFIABLE, CHECK.ALGORITHM, `${c.algorithm} not available here`);
  if (found.mismatch) return result(STATE.FAILED, CHECK.KEY, `key ${c.keyId} is not a ${c.algorithm} key`);
  const signature = decodeB64(cp.signature);
  if (!signature || signature.length !== found.alg.signatureLength) {
    return result(STATE.FAILED, CHECK.SIGNATURE, 'signature malformed');
  }
  let ok;
  try {
    ok = await subtle.verify(found.alg.verifyParams, found.key, signature, cpBytes);
  } catch (e) {
    if (e && e.name === 'NotSupportedError') return result(STATE.UNVERIFIABLE, CHECK.ALGORITHM, e.message);
    ok = false;
  }
  if (!ok) return result(STATE.FAILED, CHECK.SIGNATURE, 'checkpoint signature does not verify');
  if (seq === last && !bytesEqual(head, hash)) {
    return result(STATE.FAILED, CHECK.CHAIN_HEAD, 'event is the checkpoint head but chainHead ≠ hash');
  }
  return result(STATE.VERIFIED, null, null);
}
