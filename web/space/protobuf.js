// A small, strict protobuf wire-format reader: just enough to decode the canonical bytes of
// qaqpa.journal.v1.DigitalEvent and Checkpoint (schemas/qaqpa/journal/v1/journal.proto) that the
// digital-space API hands out as integrity proofs. Pure: no DOM, no network — Node tests it.
//
// Strictness (the bytes are evidence, not input to be forgiving with):
// - truncated input, a varint longer than 10 bytes or overflowing 64 bits, field number 0, groups
//   (wire types 3, 4) and wire types 6, 7 are errors;
// - a known field arriving with the wrong wire type is an error;
// - strings must be valid UTF-8;
// - unknown fields are skipped (any valid wire type), as protobuf does.

export class ProtoError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ProtoError';
  }
}

export const WIRE = Object.freeze({ VARINT: 0, FIXED64: 1, LEN: 2, FIXED32: 5 });

const utf8 = new TextDecoder('utf-8', { fatal: true });

// Reads one varint at `pos`; returns [value as BigInt, next position].
export function readVarint(bytes, pos) {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= bytes.length) throw new ProtoError('truncated varint');
    const b = bytes[pos++];
    if (i === 9 && b > 1) throw new ProtoError('varint overflows 64 bits');
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
  throw new ProtoError('varint longer than 10 bytes');
}

// Splits a message into its fields, in order: [{field, wire, value}], where value is a BigInt
// (varint), a Uint8Array (length-delimited) or null (fixed32/fixed64, skipped).
export function readFields(bytes) {
  if (!(bytes instanceof Uint8Array)) throw new ProtoError('bytes expected');
  const fields = [];
  let pos = 0;
  while (pos < bytes.length) {
    let key;
    [key, pos] = readVarint(bytes, pos);
    const field = key >> 3n;
    const wire = Number(key & 7n);
    if (field === 0n) throw new ProtoError('field number 0');
    if (field > 536870911n) throw new ProtoError('field number too large');
    let value = null;
    switch (wire) {
      case WIRE.VARINT:
        [value, pos] = readVarint(bytes, pos);
        break;
      case WIRE.FIXED64:
        if (pos + 8 > bytes.length) throw new ProtoError('truncated fixed64');
        pos += 8;
        break;
      case WIRE.FIXED32:
        if (pos + 4 > bytes.length) throw new ProtoError('truncated fixed32');
        pos += 4;
        break;
      case WIRE.LEN: {
        let len;
        [len, pos] = readVarint(bytes, pos);
        if (len > BigInt(bytes.length - pos)) throw new ProtoError('truncated length-delimited field');
        const n = Number(len);
        value = bytes.subarray(pos, pos + n);
        pos += n;
        break;
      }
      default:
        throw new ProtoError(`unsupported wire type ${wire}`);
    }
    fields.push({ field: Number(field), wire, value });
  }
  return fields;
}

// Schemas: field number -> [name, type], type one of the scalar names below or a nested schema
// object; a name ending in [] is repeated.
const SCALAR_WIRE = {
  string: WIRE.LEN,
  bytes: WIRE.LEN,
  uint64: WIRE.VARINT,
  int64: WIRE.VARINT,
  uint32: WIRE.VARINT,
  int32: WIRE.VARINT,
  enum: WIRE.VARINT,
};

function convert(type, value) {
  switch (type) {
    case 'string':
      try {
        return utf8.decode(value);
      } catch {
        throw new ProtoError('invalid UTF-8 in a string field');
      }
    case 'bytes':
      return value.slice();
    case 'uint64':
      return value; // BigInt
    case 'int64':
      return BigInt.asIntN(64, value);
    case 'uint32':
      return Number(BigInt.asUintN(32, value));
    case 'int32':
    case 'enum':
      return Number(BigInt.asIntN(32, value));
    default:
      throw new ProtoError(`unknown type ${type}`);
  }
}

// Decodes `bytes` with `schema` into a plain object holding only the fields present. Embedded
// messages that occur more than once are merged (protobuf semantics); scalars: last one wins.
export function decodeMessage(bytes, schema, depth = 0) {
  if (depth > 16) throw new ProtoError('nesting too deep');
  const out = {};
  for (const { field, wire, value } of readFields(bytes)) {
    const spec = schema[field];
    if (spec === undefined) continue; // unknown field: skipped
    let [name, type] = spec;
    const repeated = name.endsWith('[]');
    if (repeated) name = name.slice(0, -2);
    const expected = typeof type === 'object' ? WIRE.LEN : SCALAR_WIRE[type];
    if (wire !== expected) throw new ProtoError(`field ${field} (${name}) has wire type ${wire}`);
    let v;
    if (typeof type === 'object') {
      const inner = decodeMessage(value, type, depth + 1);
      v = repeated ? inner : Object.assign(out[name] ?? {}, inner);
    } else {
      v = convert(type, value);
    }
    if (repeated) (out[name] ??= []).push(v);
    else out[name] = v;
  }
  return out;
}

// journal.proto
export const LOCALIZED_TEXT = { 1: ['kk', 'string'], 2: ['ru', 'string'], 3: ['en', 'string'] };
export const TIMESTAMP = { 1: ['seconds', 'int64'], 2: ['nanos', 'int32'] };
export const PARTY = { 1: ['id', 'string'], 2: ['name', LOCALIZED_TEXT] };
export const PURPOSE_REF = { 1: ['code', 'string'], 2: ['text', LOCALIZED_TEXT] };
export const DIGITAL_EVENT = {
  1: ['eventId', 'string'],
  2: ['nodeId', 'string'],
  3: ['time', TIMESTAMP],
  4: ['zone', 'enum'],
  5: ['kind', 'enum'],
  6: ['client', PARTY],
  7: ['provider', PARTY],
  8: ['service', PARTY],
  9: ['subject', 'string'],
  10: ['actor', 'string'],
  11: ['purpose', PURPOSE_REF],
  12: ['consentId', 'string'],
  13: ['messageId', 'string'],
  14: ['correlationId', 'string'],
  15: ['status', 'string'],
  16: ['httpStatus', 'uint32'],
  17: ['latencyUs', 'uint64'],
  18: ['requestDigest', 'string'],
  19: ['responseDigest', 'string'],
  20: ['dataCategories[]', 'string'],
  21: ['country', 'string'],
  22: ['reason', 'string'],
  23: ['operatorReason', 'string'],
  24: ['detail', 'string'],
  29: ['seq', 'uint64'],
  30: ['prevHash', 'bytes'],
  31: ['hash', 'bytes'],
};
export const CHECKPOINT = {
  1: ['nodeId', 'string'],
  2: ['firstSeq', 'uint64'],
  3: ['lastSeq', 'uint64'],
  4: ['chainHead', 'bytes'],
  5: ['time', TIMESTAMP],
  6: ['keyId', 'string'],
  7: ['algorithm', 'string'],
  8: ['signature', 'bytes'],
};

export const decodeDigitalEvent = (bytes) => decodeMessage(bytes, DIGITAL_EVENT);
export const decodeCheckpoint = (bytes) => decodeMessage(bytes, CHECKPOINT);
