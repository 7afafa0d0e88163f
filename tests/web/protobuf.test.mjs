// The protobuf reader of the citizen's page (web/space/protobuf.js), on hand-built bytes.
import test from 'node:test';
import assert from 'node:assert/strict';

import {
  readVarint, readFields, decodeMessage, decodeDigitalEvent, decodeCheckpoint, ProtoError, WIRE,
} from '../../web/space/protobuf.js';

const b = (...xs) => Uint8Array.from(xs);

test('varints: one byte, multi-byte, the 64-bit maximum', () => {
  assert.deepEqual(readVarint(b(0x00), 0), [0n, 1]);
  assert.deepEqual(readVarint(b(0x7f), 0), [127n, 1]);
  assert.deepEqual(readVarint(b(0x96, 0x01), 0), [150n, 2]);
  assert.deepEqual(readVarint(b(0xac, 0x02), 0), [300n, 2]);
  assert.deepEqual(readVarint(b(0x80, 0x80, 0x80, 0x80, 0x10), 0), [1n << 32n, 5]);
  const max = b(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
  assert.deepEqual(readVarint(max, 0), [(1n << 64n) - 1n, 10]);
  // reading from an offset
  assert.deepEqual(readVarint(b(0xff, 0x96, 0x01), 1), [150n, 3]);
});

test('varints: truncated, too long and overflowing are refused', () => {
  assert.throws(() => readVarint(b(0x80), 0), ProtoError);
  assert.throws(() => readVarint(b(), 0), ProtoError);
  assert.throws(() => readVarint(b(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01), 0), ProtoError);
  assert.throws(() => readVarint(b(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02), 0), /overflow/);
});

test('fields of every wire type, in order', () => {
  const bytes = b(
    0x08, 0x96, 0x01, // 1: varint 150
    0x11, 1, 2, 3, 4, 5, 6, 7, 8, // 2: fixed64
    0x1a, 0x03, 0x61, 0x62, 0x63, // 3: "abc"
    0x25, 1, 2, 3, 4, // 4: fixed32
  );
  const f = readFields(bytes);
  assert.equal(f.length, 4);
  assert.deepEqual([f[0].field, f[0].wire, f[0].value], [1, WIRE.VARINT, 150n]);
  assert.deepEqual([f[1].field, f[1].wire, f[1].value], [2, WIRE.FIXED64, null]);
  assert.deepEqual([f[2].field, f[2].wire, [...f[2].value]], [3, WIRE.LEN, [0x61, 0x62, 0x63]]);
  assert.deepEqual([f[3].field, f[3].wire], [4, WIRE.FIXED32]);
  // a multi-byte key: field 29 (seq) varint -> key 0xe8 0x01
  const g = readFields(b(0xe8, 0x01, 0x2a));
  assert.deepEqual([g[0].field, g[0].value], [29, 42n]);
});

test('truncated input and bad keys are refused', () => {
  assert.throws(() => readFields(b(0x0a, 0x05, 0x61)), /truncated/); // length past the end
  assert.throws(() => readFields(b(0x11, 1, 2, 3)), /truncated fixed64/);
  assert.throws(() => readFields(b(0x25, 1, 2)), /truncated fixed32/);
  assert.throws(() => readFields(b(0x08)), /truncated varint/); // value missing
  assert.throws(() => readFields(b(0x00, 0x01)), /field number 0/);
  assert.throws(() => readFields(b(0x0b)), /wire type 3/); // start group
  assert.throws(() => readFields(b(0x0e)), /wire type 6/);
  assert.throws(() => readFields('not bytes'), ProtoError);
  // a huge length (varint 2^40) does not allocate or wrap
  assert.throws(() => readFields(b(0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20)), /truncated/);
});

test('nested messages decode, unknown fields of every wire type are skipped', () => {
  // DigitalEvent: 1 event_id "e1"; 99 unknown varint; 6 client {1 id "c", 2 name {1 kk "қ", 3 en "C"}};
  // 100 unknown len; 101 unknown fixed32; 102 unknown fixed64; 3 time {1 seconds 1700000000, 2 nanos 250000000}
  const kk = [...new TextEncoder().encode('қ')];
  const name = [0x0a, kk.length, ...kk, 0x1a, 0x01, 0x43];
  const client = [0x0a, 0x01, 0x63, 0x12, name.length, ...name];
  const time = [0x08, ...[0x80, 0xe2, 0xcf, 0xaa, 0x06], 0x10, ...[0x80, 0xe5, 0x9a, 0x77]];
  const bytes = b(
    0x0a, 0x02, 0x65, 0x31,
    0x98, 0x06, 0x07, // field 99 varint
    0x32, client.length, ...client,
    0xa2, 0x06, 0x02, 0xff, 0xff, // field 100 len
    0xad, 0x06, 1, 2, 3, 4, // field 101 fixed32
    0xb1, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, // field 102 fixed64
    0x1a, time.length, ...time,
  );
  const e = decodeDigitalEvent(bytes);
  assert.equal(e.eventId, 'e1');
  assert.deepEqual(e.client, { id: 'c', name: { kk: 'қ', en: 'C' } });
  assert.equal(e.time.seconds, 1700000000n);
  assert.equal(e.time.nanos, 250000000);
});

test('wrong wire type for a known field, invalid UTF-8 and nesting depth are refused', () => {
  assert.throws(() => decodeDigitalEvent(b(0x08, 0x01)), /wire type 0/); // event_id as varint
  assert.throws(() => decodeDigitalEvent(b(0x0a, 0x02, 0xc3, 0x28)), /UTF-8/);
  assert.throws(() => decodeDigitalEvent(b(0x32, 0x02, 0x08, 0x01)), /wire type/); // client.id as varint
  const self = {};
  self[1] = ['inner', self];
  let deep = b();
  for (let i = 0; i < 20; i++) deep = b(0x0a, deep.length, ...deep);
  assert.throws(() => decodeMessage(deep, self), /too deep/);
});

test('scalars: last one wins, repeated strings accumulate, 64-bit and signed values', () => {
  const bytes = b(
    0x7a, 0x02, 0x4f, 0x4b, // 15 status "OK"
    0x7a, 0x01, 0x58, // 15 status "X" (last wins)
    0xa2, 0x01, 0x01, 0x61, // 20 "a"
    0xa2, 0x01, 0x01, 0x62, // 20 "b"
    0xe8, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, // 29 seq = 2^64-1
    0xf2, 0x01, 0x02, 0x00, 0xff, // 30 prev_hash
  );
  const e = decodeDigitalEvent(bytes);
  assert.equal(e.status, 'X');
  assert.deepEqual(e.dataCategories, ['a', 'b']);
  assert.equal(e.seq, (1n << 64n) - 1n);
  assert.deepEqual([...e.prevHash], [0, 255]);
  // Timestamp.seconds is int64: ten-byte two's complement is negative
  const t = decodeMessage(b(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), { 1: ['s', 'int64'] });
  assert.equal(t.s, -1n);
});

test('a checkpoint', () => {
  const bytes = b(
    0x0a, 0x01, 0x6e, // node "n"
    0x10, 0x05, // first 5
    0x18, 0x09, // last 9
    0x22, 0x02, 0xaa, 0xbb, // chain head
    0x32, 0x01, 0x6b, // key id "k"
    0x3a, 0x07, ...new TextEncoder().encode('ed25519'),
  );
  const c = decodeCheckpoint(bytes);
  assert.equal(c.nodeId, 'n');
  assert.equal(c.firstSeq, 5n);
  assert.equal(c.lastSeq, 9n);
  assert.deepEqual([...c.chainHead], [0xaa, 0xbb]);
  assert.equal(c.keyId, 'k');
  assert.equal(c.algorithm, 'ed25519');
  assert.equal(c.signature, undefined);
});
