// A minimal protobuf writer for the tests: builds canonical bytes (fields in ascending order,
// defaults omitted) of DigitalEvent and Checkpoint the way the gateway's deterministic encoder
// does, so the verifier can be tested against fixtures signed with keys made in the test.

export function varint(value) {
  let v = BigInt.asUintN(64, BigInt(value));
  const out = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) b |= 0x80;
    out.push(b);
  } while (v !== 0n);
  return out;
}

const enc = new TextEncoder();

export function key(field, wire) {
  return varint((BigInt(field) << 3n) | BigInt(wire));
}

export function concat(...parts) {
  const flat = parts.flatMap((p) => (p instanceof Uint8Array ? [...p] : p));
  return Uint8Array.from(flat);
}

export function lenField(field, bytes) {
  return concat(key(field, 2), varint(bytes.length), bytes);
}
export function strField(field, s) {
  return s ? lenField(field, enc.encode(s)) : [];
}
export function bytesField(field, b) {
  return b && b.length ? lenField(field, b) : [];
}
export function varintField(field, v) {
  return v ? concat(key(field, 0), varint(v)) : [];
}
function msgField(field, bytes) {
  return bytes.length ? lenField(field, bytes) : [];
}

const localized = (t) => (t ? concat(strField(1, t.kk), strField(2, t.ru), strField(3, t.en)) : new Uint8Array());
const party = (p) => (p ? concat(strField(1, p.id), msgField(2, localized(p.name))) : new Uint8Array());

const ZONES = { STATE: 1, EXTERNAL: 2, INTERNATIONAL: 3, SPACE: 4, ADMIN: 5 };
const KINDS = {
  DATA_ACCESS: 1, ACCESS_DENIED: 2, DELIVERY_FAILED: 3, CONSENT_GRANTED: 4, CONSENT_REVOKED: 5,
  INTERNATIONAL_TRANSFER: 6, POLICY_CHANGED: 7, OPERATOR_ACCESS: 8,
};

// `e` uses the event JSON's shape, plus timeSeconds/timeNanos and prevHash as bytes.
export function encodeEvent(e) {
  const time = concat(varintField(1, e.timeSeconds ?? 0), varintField(2, e.timeNanos ?? 0));
  return concat(
    strField(1, e.eventId),
    strField(2, e.nodeId),
    msgField(3, time),
    varintField(4, ZONES[e.zone] ?? 0),
    varintField(5, KINDS[e.kind] ?? 0),
    msgField(6, party(e.client)),
    msgField(7, party(e.provider)),
    msgField(8, party(e.service)),
    strField(9, e.subject),
    strField(10, e.actor),
    msgField(11, e.purpose ? concat(strField(1, e.purpose.code), msgField(2, localized(e.purpose.text))) : new Uint8Array()),
    strField(12, e.consentId),
    strField(13, e.messageId),
    strField(14, e.correlationId),
    strField(15, e.status),
    varintField(16, e.httpStatus ?? 0),
    varintField(17, e.latencyUs ?? 0),
    strField(18, e.requestDigest),
    strField(19, e.responseDigest),
    ...(e.dataCategories ?? []).map((c) => strField(20, c)),
    strField(21, e.country),
    strField(22, e.reason),
    varintField(29, e.seq ?? 0),
    bytesField(30, e.prevHashBytes),
    bytesField(31, e.hashBytes),
  );
}

export function encodeCheckpoint(c) {
  const time = concat(varintField(1, c.timeSeconds ?? 0), varintField(2, c.timeNanos ?? 0));
  return concat(
    strField(1, c.nodeId),
    varintField(2, c.firstSeq),
    varintField(3, c.lastSeq),
    bytesField(4, c.chainHead),
    msgField(5, time),
    strField(6, c.keyId),
    strField(7, c.algorithm),
    bytesField(8, c.signature),
  );
}
