// The integrity check of the "verified" badge (web/space/verify.js), with real keys made here by
// Node's WebCrypto (ECDSA P-256 and Ed25519) and canonical bytes built by tests/web/pbwriter.mjs.
import test from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';

import {
  verifyEvent, KeyRing, STATE, CHECK, base64Encode, base64Decode, formatTime, projectEvent,
} from '../../web/space/verify.js';
import { decodeDigitalEvent } from '../../web/space/protobuf.js';
import { encodeEvent, encodeCheckpoint, concat } from './pbwriter.mjs';

const subtle = webcrypto.subtle;

const ALGS = {
  'ecdsa-p256-sha256': {
    gen: { name: 'ECDSA', namedCurve: 'P-256' },
    sign: { name: 'ECDSA', hash: 'SHA-256' },
  },
  ed25519: { gen: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
};

async function keyPair(algorithm, kid) {
  const pair = await subtle.generateKey(ALGS[algorithm].gen, true, ['sign', 'verify']);
  const jwk = await subtle.exportKey('jwk', pair.publicKey);
  const pub = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, kid };
  if (jwk.y) pub.y = jwk.y;
  return { privateKey: pair.privateKey, jwk: pub, algorithm, kid };
}

const sha256 = async (bytes) => new Uint8Array(await subtle.digest('SHA-256', bytes));

// The event as the API lists it (event_json.h shape) and its proof, signed by `key`.
// opts: seq, firstSeq, lastSeq, plus overrides.
async function fixture(key, opts = {}) {
  const seq = opts.seq ?? 7;
  const prev = new Uint8Array(32).fill(0x11);
  const fields = {
    eventId: '01935f6e-7c1a-7d2b-9e3f-0123456789ab',
    nodeId: 'kz-qaqpa-demo-1',
    seq,
    timeSeconds: 1795425421, // 2026-11-23T09:17:01Z
    timeNanos: 250000999,
    zone: 'EXTERNAL',
    kind: 'ACCESS_DENIED',
    client: {
      id: 'KZ/COM/990340000014/bank-core',
      name: { kk: 'Банктің автоматтандырылған жүйесі (демо)', ru: 'Автоматизированная банковская система (демо)', en: 'Core banking system (demo)' },
    },
    provider: { id: 'KZ/GOV/240140000011/population-register', name: { en: 'Population register' } },
    service: { id: 'person.byIin', name: { kk: 'ЖСН бойынша жеке тұлға туралы мәліметтер', ru: 'Сведения о физическом лице по ИИН', en: 'Person details by IIN' } },
    subject: 'IIN:900101300017',
    purpose: { code: 'CREDIT_SCORING', text: { en: 'Credit scoring <b>' } },
    messageId: 'm-1',
    status: 'CONSENT_REQUIRED',
    httpStatus: 403,
    latencyUs: 812,
    dataCategories: ['identity', 'address'],
    reason: 'CONSENT_MISSING',
    prevHashBytes: prev,
  };
  const canonical = encodeEvent(fields);
  const hash = await sha256(concat(prev, canonical));
  const event = {
    eventId: fields.eventId,
    nodeId: fields.nodeId,
    seq,
    time: '2026-11-23T09:17:01.250000Z',
    zone: fields.zone,
    kind: fields.kind,
    client: fields.client,
    provider: fields.provider,
    service: fields.service,
    subject: fields.subject,
    purpose: fields.purpose,
    messageId: fields.messageId,
    status: fields.status,
    httpStatus: 403,
    latencyUs: 812,
    dataCategories: ['identity', 'address'],
    reason: 'CONSENT_MISSING',
    prevHash: base64Encode(prev),
    hash: base64Encode(hash),
  };
  const firstSeq = opts.firstSeq ?? 5;
  const lastSeq = opts.lastSeq ?? 9;
  const chainHead = opts.chainHead ?? (lastSeq === seq ? hash : new Uint8Array(32).fill(0x22));
  const cp = {
    nodeId: fields.nodeId, firstSeq, lastSeq, chainHead, timeSeconds: 1795425422,
    keyId: key.kid, algorithm: key.algorithm,
  };
  const cpCanonical = encodeCheckpoint(cp);
  const signature = new Uint8Array(await subtle.sign(ALGS[key.algorithm].sign, key.privateKey, cpCanonical));
  const proof = {
    canonical: base64Encode(canonical),
    prevHash: base64Encode(prev),
    hash: base64Encode(hash),
    covered: true,
    checkpoint: {
      nodeId: cp.nodeId, firstSeq, lastSeq, chainHead: base64Encode(chainHead),
      time: '2026-11-23T09:17:02.000000Z', keyId: key.kid, algorithm: key.algorithm,
      signature: base64Encode(signature),
    },
    checkpointCanonical: base64Encode(cpCanonical),
  };
  return { event, proof, canonical, prev, hash, cpCanonical };
}

const ring = (...keys) => new KeyRing({ keys: keys.map((k) => k.jwk) }, subtle);

for (const algorithm of ['ecdsa-p256-sha256', 'ed25519']) {
  test(`${algorithm}: a correct proof verifies`, async () => {
    const key = await keyPair(algorithm, `k-${algorithm}`);
    const { event, proof } = await fixture(key);
    const r = await verifyEvent({ event, proof, keys: ring(key), subtle });
    assert.deepEqual(r, { state: STATE.VERIFIED, check: null, note: null });
  });

  test(`${algorithm}: the checkpoint's head event verifies (chainHead = hash)`, async () => {
    const key = await keyPair(algorithm, 'k');
    const { event, proof } = await fixture(key, { seq: 9, lastSeq: 9 });
    assert.equal((await verifyEvent({ event, proof, keys: ring(key), subtle })).state, STATE.VERIFIED);
  });

  test(`${algorithm}: a tampered signature fails`, async () => {
    const key = await keyPair(algorithm, 'k');
    const { event, proof } = await fixture(key);
    const sig = base64Decode(proof.checkpoint.signature);
    sig[10] ^= 0x01;
    proof.checkpoint.signature = base64Encode(sig);
    const r = await verifyEvent({ event, proof, keys: ring(key), subtle });
    assert.equal(r.state, STATE.FAILED);
    assert.equal(r.check, CHECK.SIGNATURE);
  });
}

test('a signature by another key with the same kid fails', async () => {
  const key = await keyPair('ecdsa-p256-sha256', 'k');
  const other = await keyPair('ecdsa-p256-sha256', 'k');
  const { event, proof } = await fixture(key);
  const r = await verifyEvent({ event, proof, keys: ring(other), subtle });
  assert.deepEqual([r.state, r.check], [STATE.FAILED, CHECK.SIGNATURE]);
});

test('a flipped byte in the canonical bytes fails', async () => {
  const key = await keyPair('ecdsa-p256-sha256', 'k');
  const { event, proof, canonical } = await fixture(key);
  // Flip a byte inside a string so the bytes still decode: the hash check must catch it
  // (or the field comparison, whichever comes first) — either way it is "failed".
  const i = canonical.indexOf(0x6d); // 'm' of "m-1"
  const bad = canonical.slice();
  bad[i] = 0x6e;
  proof.canonical = base64Encode(bad);
  let r = await verifyEvent({ event, proof, keys: ring(key), subtle });
  assert.deepEqual([r.state, r.check], [STATE.FAILED, CHECK.FIELDS]);
  // A byte flipped in a field the table does not compare byte-wise — prev_hash's last byte — is
  // caught by the hash.
  const bad2 = canonical.slice();
  bad2[bad2.length - 1] ^= 0xff;
  proof.canonical = base64Encode(bad2);
  r = await verifyEvent({ event, proof, keys: ring(key), subtle });
  assert.deepEqual([r.state, r.check], [STATE.FAILED, CHECK.HASH]);
  // Bytes that no longer parse
  proof.canonical = base64Encode(canonical.slice(0, canonical.length - 3));
  r = await verifyEvent({ event, proof, keys: ring(key), subtle });
  assert.deepEqual([r.state, r.check], [STATE.FAILED, CHECK.FIELDS]);
});

test('a changed event hash with consistent bytes fails the hash check', async () => {
  const key = await keyPair('ed25519', 'k');
  const { event, proof } = await fixture(key);
  const h = base64Decode(proof.hash);
  h[0] ^= 1;
  proof.hash = event.hash = base64Encode(h);
  const r = await verifyEvent({ event, proof, keys: ring(key), subtle });
  assert.deepEqual([r.state, r.check], [STATE.FAILED, CHECK.HASH]);
});

test('a wrong prevHash fails', async () => {
  const key = await keyPair('ecdsa-p256-sha256', 'k');
  const { event, proof } = await fixture(key);
  proof.prevHash = base64Encode(new Uint8Array(32).fill(0x12));
  let r = await verifyEvent({ event, proof, keys: ring(key), subtle });
  assert.deepEqual([r.state, r.check], [STATE.FAILED, CHECK.HASH]);
  // and in the event JSON only
  const f = await fixture(key);
  f.event.prevHash = base64Encode(new Uint8Array(32));
  r = await verifyEvent({ event: f.event, proof: f.proof, keys: ring(key), subtle });
  assert.deepEqual([r.state, r.check], [STATE.FAILED, CHECK.HASH]);
});

test('a JSON field differing from the decoded bytes fails, naming the field', async () => {
  const key = await keyPair('ecdsa-p256-sha256', 'k');
  const cases = [
    ['status', (e) => { e.status = 'OK'; }],
    ['seq', (e) => { e.seq = 8; }],
    ['subject', (e) => { e.subject = 'IIN:850506400003'; }],
    ['client', (e) => { e.client = { ...e.client, id: 'KZ/GOV/240140000021/tax-service' }; }],
    ['client', (e) => { e.client = { ...e.client, name: { ...e.client.name, ru: 'Налоговая' } }; }],
    ['service', (e) => { e.service = { ...e.service, id: 'tax.debtStatus' }; }],
    ['zone', (e) => { e.zone = 'STATE'; }],
    ['kind', (e) => { e.kind = 'DATA_ACCESS'; }],
    ['eventId', (e) => { e.eventId = '01935f6e-7c1a-7d2b-9e3f-0123456789ac'; }],
    ['time', (e) => { e.time = '2026-11-23T09:17:02.250000Z'; }],
    ['purpose', (e) => { delete e.purpose; }],
    ['actor', (e) => { e.actor = 'IIN:900101300017'; }],
  ];
  for (const [field, change] of cases) {
    const { event, proof } = await fixture(key);
    change(event);
    const r = await verifyEvent({ event, proof, keys: ring(key), subtle });
    assert.deepEqual([r.state, r.check], [STATE.FAILED, CHECK.FIELDS], field);
    assert.match(r.note, new RegExp(`field ${field} `), field);
  }
  // Keys the gateway might add later are ignored, not failed.
  const { event, proof } = await fixture(key);
  event.somethingNew = 1;
  assert.equal((await verifyEvent({ event, proof, keys: ring(key), subtle })).state, STATE.VERIFIED);
  // A key the page does not show may be left out of the JSON; when present it must match.
  for (const k of ['latencyUs', 'messageId', 'dataCategories', 'reason', 'httpStatus']) {
    const f = await fixture(key);
    delete f.event[k];
    assert.equal((await verifyEvent({ event: f.event, proof: f.proof, keys: ring(key), subtle })).state, STATE.VERIFIED, k);
  }
  for (const [k, v] of [['latencyUs', 813], ['messageId', 'm-2'], ['dataCategories', ['identity']], ['reason', 'X']]) {
    const f = await fixture(key);
    f.event[k] = v;
    const r = await verifyEvent({ event: f.event, proof: f.proof, keys: ring(key), subtle });
    assert.deepEqual([r.state, r.check], [STATE.FAILED, CHECK.FIELDS], k);
  }
  // A shown key left out of the JSON while the bytes have it is a difference.
  for (const k of ['provider', 'subject', 'time']) {
    const f = await fixture(key);
    delete f.event[k];
    const r = await verifyEvent({ event: f.event, proof: f.proof, keys: ring(key), subtle });
    assert.deepEqual([r.state, r.check], [STATE.FAILED, CHECK.FIELDS], k);
  }
});

test('a seq outside the checkpoint range fails', async () => {
  const key = await keyPair('ecdsa-p256-sha256', 'k');
  for (const [firstSeq, lastSeq] of [[8, 12], [1, 6]]) {
    const { event, proof } = await fixture(key, { seq: 7, firstSeq, lastSeq });
    const r = await verifyEvent({ event, proof, keys: ring(key), subtle });
    assert.deepEqual([r.state, r.check], [STATE.FAILED, CHECK.RANGE]);
  }
});

test('the head event with a different chainHead fails', async () => {
  const key = await keyPair('ed25519', 'k');
  const { event, proof } = await fixture(key, { seq: 9, lastSeq: 9, chainHead: new Uint8Array(32).fill(3) });
  const r = await verifyEvent({ event, proof, keys: ring(key), subtle });
  assert.deepEqual([r.state, r.check], [STATE.FAILED, CHECK.CHAIN_HEAD]);
});

test('checkpoint JSON differing from its signed bytes fails', async () => {
  const key = await keyPair('ecdsa-p256-sha256', 'k');
  const { event, proof } = await fixture(key);
  proof.checkpoint.lastSeq = 100; // a widened range in JSON only
  const r = await verifyEvent({ event, proof, keys: ring(key), subtle });
  assert.deepEqual([r.state, r.check], [STATE.FAILED, CHECK.CHECKPOINT]);
});

test('an unknown kid is unverifiable; a key of the wrong type fails', async () => {
  const key = await keyPair('ecdsa-p256-sha256', 'k');
  const other = await keyPair('ecdsa-p256-sha256', 'other');
  const { event, proof } = await fixture(key);
  let r = await verifyEvent({ event, proof, keys: ring(other), subtle });
  assert.deepEqual([r.state, r.check], [STATE.UNVERIFIABLE, CHECK.KEY]);
  r = await verifyEvent({ event, proof, keys: new KeyRing(null, subtle), subtle });
  assert.deepEqual([r.state, r.check], [STATE.UNVERIFIABLE, CHECK.KEY]);
  const ed = await keyPair('ed25519', 'k');
  r = await verifyEvent({ event, proof, keys: ring(ed), subtle });
  assert.deepEqual([r.state, r.check], [STATE.FAILED, CHECK.KEY]);
});

test('not covered yet, or an algorithm this runtime lacks, is unverifiable', async () => {
  const key = await keyPair('ed25519', 'k');
  const { event, proof } = await fixture(key);
  let r = await verifyEvent({ event, proof: { ...proof, covered: false }, keys: ring(key), subtle });
  assert.deepEqual([r.state, r.check], [STATE.UNVERIFIABLE, CHECK.COVERED]);
  // A browser without Ed25519: importKey rejects with NotSupportedError.
  const lacking = {
    digest: (a, d) => subtle.digest(a, d),
    importKey: async () => { throw new DOMException('no Ed25519', 'NotSupportedError'); },
    verify: () => { throw new Error('not reached'); },
  };
  r = await verifyEvent({ event, proof, keys: new KeyRing({ keys: [key.jwk] }, lacking), subtle: lacking });
  assert.deepEqual([r.state, r.check], [STATE.UNVERIFIABLE, CHECK.ALGORITHM]);
  // An algorithm name the page does not know
  const f = await fixture({ ...key, algorithm: 'ed448' }).catch(() => null);
  assert.equal(f, null); // cannot even sign it here; the name check is covered by KeyRing below
  const k = await new KeyRing({ keys: [key.jwk] }, subtle).get('k', 'ed448');
  assert.deepEqual(k, { unsupported: true });
});

test('a failed check still fails when the event is not covered', async () => {
  const key = await keyPair('ed25519', 'k');
  const { event, proof } = await fixture(key);
  event.status = 'OK';
  const r = await verifyEvent({ event, proof: { ...proof, covered: false }, keys: ring(key), subtle });
  assert.equal(r.state, STATE.FAILED);
});

test('garbage proofs fail without throwing', async () => {
  const key = await keyPair('ed25519', 'k');
  const { event } = await fixture(key);
  for (const proof of [null, {}, { canonical: '!!' }, { canonical: 'AAAA' }, { canonical: 'A' }]) {
    const r = await verifyEvent({ event, proof, keys: ring(key), subtle });
    assert.equal(r.state, STATE.FAILED);
  }
});

test('base64 round trip and strictness', () => {
  for (let n = 0; n < 40; n++) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
    const s = base64Encode(bytes);
    assert.equal(s, Buffer.from(bytes).toString('base64'));
    assert.deepEqual(base64Decode(s), bytes);
  }
  for (const bad of ['A', 'AB=C', 'A===', '====x', 'AB-_', 'AB\nC']) {
    assert.throws(() => base64Decode(bad), undefined, bad);
  }
});

test('time formatting matches gateway/audit/event_json.cc', () => {
  assert.equal(formatTime(0n, 0), '1970-01-01T00:00:00.000000Z');
  assert.equal(formatTime(1795425421n, 250000999), '2026-11-23T09:17:01.250000Z');
  assert.equal(formatTime(-62135596800n - 5n, 0), '0001-01-01T00:00:00.000000Z');
  assert.equal(formatTime(253402300799n + 100n, 2000000000), '9999-12-31T23:59:59.999999Z');
  assert.equal(formatTime(1n, -5), '1970-01-01T00:00:01.000000Z');
});

test('projection omits defaults and names enums, numbers for unknown values', () => {
  const d = decodeDigitalEvent(encodeEvent({ eventId: 'x', zone: 'SPACE', kind: 'CONSENT_GRANTED', client: { id: 'c' } }));
  assert.deepEqual(projectEvent(d), { eventId: 'x', zone: 'SPACE', kind: 'CONSENT_GRANTED', client: { id: 'c' } });
  assert.deepEqual(projectEvent({ zone: 9, kind: 0 }), { zone: 9 });
});
