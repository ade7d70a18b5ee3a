'use strict';
// nodes7 0.3.18 (plcpeople, pure JavaScript) against a real s7rtd: every data type and area
// nodes7 can address is written and read back, many items share one request, timers and
// counters are read the way nodes7 addresses them, and failures come back as BAD quality.
//
// Run: node --test tests/interop/nodes7/ (scripts/test.sh does this via run.sh).
//
// nodes7 facts these tests rely on (target/node/node_modules/nodes7/nodeS7.js):
// - Reads are merged per area when items are at most 5 bytes apart, and packed up to the
//   PDU (960) into one Read Var job; up to 8 jobs run in parallel.
// - A failed item has quality 'BAD 255' whatever its return code, and readAllItems reports
//   the quality string instead of the value.
// - Timers/counters: the address field carries number × 8 (golden README quirk 1), so 'T2'
//   asks for timer 16. A correct server answers bytes 2 × 16 = 32..33 of the timer area.
// - Timer/counter WRITES carry the data with transport size 0x09 (octet string, length in
//   bytes) but put the length in bits (16 for one timer): the data item claims 16 bytes and
//   holds 2, a malformed request. s7rtd answers it with header error 0x8104; nodes7 then resets
//   the connection (it treats any header error as a broken link) and reports the write as bad.
// - LINT/ILI/MLI/QLI reading and writing is commented out in nodes7 (no value), so LINT is
//   not tested. DWORD arrays are written with writeInt32BE, so array values stay < 2^31.
// - Peripheral items (PIW...) address area 0x80, which the image does not provide: the
//   server answers 0x0A (object does not exist), nodes7 reports BAD.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./s7rtd.js');

/** Starts a server and a nodes7 connection, runs `body`, then always drops and stops both. */
async function withPlc(body, opts = {}) {
  const srv = await h.startServer();
  let plc;
  try {
    plc = await h.connect(srv, opts);
    await body(plc, srv);
  } catch (e) {
    e.message += `\n--- s7rtd stderr ---\n${srv.stderr()}`;
    throw e;
  } finally {
    if (plc) await h.drop(plc);
    await srv.stop();
  }
}

/** Writes, asserts nodes7 saw no bad quality, reads the same items back, returns the values. */
async function writeAndReadBack(plc, items) {
  const names = Object.keys(items);
  const bad = await h.write(plc, names, Object.values(items));
  assert.equal(bad, false, 'write reported bad quality');
  const r = await h.read(plc, names);
  assert.equal(r.bad, false, `read reported bad quality: ${JSON.stringify(r.quality)}`);
  return r.values;
}

// Local-time and UTC instants for DT/DTZ (BCD, millisecond resolution) and DTL/DTLZ.
const DT_LOCAL = new Date(2024, 1, 29, 13, 37, 42, 123); // a Thursday
const DT_UTC = new Date(Date.UTC(2031, 6, 14, 9, 30, 15, 250)); // a Monday

// DB1 layout: [address, value written, bytes expected at that offset].
const DB1_ITEMS = [
  ['DB1,X0.0', true, null],
  ['DB1,X0.3', true, null],
  ['DB1,X1.0.8', [true, false, true, true, false, false, true, false], [1, 0x4d]],
  ['DB1,B2', 0xab, [2, 0xab]],
  ['DB1,BYTE3.4', [1, 2, 250, 255], [3, 1, 2, 250, 255]],
  ['DB1,C8', 'Q', [8, 0x51]],
  ['DB1,CHAR9.5', 'hello', [9, ...Buffer.from('hello')]],
  ['DB1,S20.20', 'Hello S7rt', [20, 20, 10, ...Buffer.from('Hello S7rt' + ' '.repeat(10))]],
  ['DB1,STRING44.8.2', ['ab', 'cdefgh'], [44, 8, 2, ...Buffer.from('ab      '), 8, 6, ...Buffer.from('cdefgh  ')]],
  ['DB1,I70', -12345, [70, 0xcf, 0xc7]],
  ['DB1,INT72.3', [-1, 0, 32767], [72, 0xff, 0xff, 0, 0, 0x7f, 0xff]],
  ['DB1,DI80', -2000000000, [80, 0x88, 0xca, 0x6c, 0x00]],
  ['DB1,DINT84.2', [1, -1], [84, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]],
  ['DB1,W92', 0xbeef, [92, 0xbe, 0xef]],
  ['DB1,WORD94.2', [1, 65535], [94, 0, 1, 0xff, 0xff]],
  ['DB1,DW100', 0xdeadbeef, [100, 0xde, 0xad, 0xbe, 0xef]],
  ['DB1,DWORD104.2', [1, 0x7fffffff], [104, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff]],
  ['DB1,R112', 3.5, [112, 0x40, 0x60, 0, 0]],
  ['DB1,REAL116.2', [-0.25, 1e10], [116, 0xbe, 0x80, 0, 0, 0x50, 0x15, 0x02, 0xf9]],
  ['DB1,LR124', Math.PI, [124, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18]],
  ['DB1,LREAL132.2', [1e300, -2.5], [132, 0x7e, 0x37, 0xe4, 0x3c, 0x88, 0x00, 0x75, 0x9c, 0xc0, 0x04, 0, 0, 0, 0, 0, 0]],
  ['DB1,DT150', DT_LOCAL, [150, 0x24, 0x02, 0x29, 0x13, 0x37, 0x42, 0x12, 0x35]],
  ['DB1,DTZ160', DT_UTC, [160, 0x31, 0x07, 0x14, 0x09, 0x30, 0x15, 0x25, 0x02]],
  ['DB1,DTL170', DT_LOCAL, [170, 0x07, 0xe8, 2, 29, 5, 13, 37, 42, 0x07, 0x54, 0xd4, 0xc0]],
  ['DB1,DTLZ184', DT_UTC, [184, 0x07, 0xef, 7, 14, 2, 9, 30, 15, 0x0e, 0xe6, 0xb2, 0x80]],
];

test('every DB data type nodes7 knows is written, stored at the right bytes and read back exactly', async () => {
  await withPlc(async (plc) => {
    const items = Object.fromEntries(DB1_ITEMS.map(([a, v]) => [a, v]));
    items['DB2,INT2000'] = 4242; // another DB, high offset
    items['DB3,R252'] = -1.5; // the last 4 bytes of DB3
    const got = await writeAndReadBack(plc, items);
    assert.deepEqual(got, items);
    // The bytes as the server holds them (each address read as a plain byte array too).
    const raw = (await h.read(plc, ['DB1,BYTE0.196'])).values['DB1,BYTE0.196'];
    const expected = new Array(196).fill(0);
    expected[0] = 0x09; // X0.0 and X0.3
    for (const [, , bytes] of DB1_ITEMS) {
      if (bytes) bytes.slice(1).forEach((b, i) => { expected[bytes[0] + i] = b; });
    }
    assert.deepEqual(raw, expected);
    const tail = await h.read(plc, ['DB2,W2000', 'DB3,DW252']);
    assert.deepEqual(tail.values, { 'DB2,W2000': 4242, 'DB3,DW252': 0xbfc00000 });
  });
});

test('single-bit writes change only their bit and bit arrays read back', async () => {
  await withPlc(async (plc) => {
    assert.equal(await h.write(plc, 'DB1,B10', 0b10100000), false);
    assert.equal(await h.write(plc, ['DB1,X10.0', 'DB1,X10.7'], [true, false]), false);
    const r = await h.read(plc, ['DB1,B10', 'DB1,X10.0', 'DB1,X10.5', 'DB1,X10.7', 'DB1,X10.0.8', 'DB1,X10.4.3']);
    assert.deepEqual(r.values, {
      'DB1,B10': 0b00100001,
      'DB1,X10.0': true,
      'DB1,X10.5': true,
      'DB1,X10.7': false,
      'DB1,X10.0.8': [true, false, false, false, false, true, false, false],
      'DB1,X10.4.3': [false, true, false],
    });
  });
});

test('M, I and Q items of every type (and the German E/A names) are written and read back', async () => {
  await withPlc(async (plc) => {
    const items = {
      'M0.1': true, 'MB5': 200, 'MW6': 0xfeed, 'MD8': 0xcafef00d, 'MR12': -7.75, 'MI16': -300,
      'MDI18': -70000, 'MC22': 'z', 'MLR24': 1.0e-300, 'M32.0.8': [false, true, true, false, false, false, false, true],
      'I0.0': true, 'IB1': 17, 'IW2': 0x1234, 'ID4': 0x89abcdef, 'II8': -2, 'IR10': 0.5, 'IC14': 'i',
      'IDI16': 123456789, 'ILR20': -1.25,
      'Q0.7': true, 'QB1': 99, 'QW2': 0x4321, 'QD4': 4000000000, 'QI8': 1234, 'QR10': 2.25,
      'QC14': 'q', 'QDI16': -5, 'QLR20': 6.5,
      'EB100': 0x5a, 'EW102': 0xa55a, 'AB100': 0xa5, 'AW102': 0x0ff0,
    };
    assert.deepEqual(await writeAndReadBack(plc, items), items);
    // The aliases address the same bytes as I/Q.
    const r = await h.read(plc, ['IB100', 'IW102', 'QB100', 'QW102', 'MB0', 'IB0', 'QB0']);
    assert.deepEqual(r.values, { IB100: 0x5a, IW102: 0xa55a, QB100: 0xa5, QW102: 0x0ff0, MB0: 2, IB0: 1, QB0: 0x80 });
  });
});

test('38 mixed items go out in one Read Var job and every item is answered (Snap7 answers 20)', async () => {
  await withPlc(async (plc, srv) => {
    assert.equal(await h.rawWriteTimersOrCounters(srv, 0x1d, 0, Buffer.from([...Array(128).keys()])), 0xff);
    const items = {};
    // 8 bytes or more apart, so nodes7 cannot merge them into one block.
    for (let i = 0; i < 8; i++) items[`DB1,INT${i * 10}`] = 1000 + i;
    for (let i = 0; i < 6; i++) items[`DB2,DI${100 + i * 12}`] = -100000 * (i + 1);
    for (let i = 0; i < 4; i++) items[`DB3,R${i * 16}`] = i + 0.5;
    for (let i = 0; i < 6; i++) items[`MW${i * 10}`] = 0x1111 * (i + 1);
    for (let i = 0; i < 5; i++) items[`IB${i * 10}`] = 10 + i;
    for (let i = 0; i < 5; i++) items[`Q${i * 10}.${i}`] = true;
    assert.equal(Object.keys(items).length, 34);
    assert.equal(await h.write(plc, Object.keys(items), Object.values(items)), false);
    const names = [...Object.keys(items), 'T0', 'T1', 'C0', 'DB10,B0'];
    const r = await h.read(plc, names);
    assert.equal(plc.readPacketArray.length, 1, 'nodes7 split the read');
    assert.equal(plc.readPacketArray[0].itemList.length, 38);
    assert.equal(r.bad, false, JSON.stringify(r.quality));
    // T0 = timer 0 (bytes 0..1), 'T1' = timer 8 (bytes 16..17); counters and DB10 are zero.
    assert.deepEqual(r.values, { ...items, T0: 0x0001, T1: 0x1011, C0: 0, 'DB10,B0': 0 });
  });
});

test('timers and counters: nodes7 sends number x 8 and gets the 2 bytes of that element', async () => {
  await withPlc(async (plc, srv) => {
    // Known bytes: timer area byte i = i, counter area byte i = 255 - i (as in the golden captures).
    const timers = Buffer.from([...Array(128).keys()]);
    const counters = Buffer.from([...Array(128).keys()].map((i) => 255 - i));
    assert.equal(await h.rawWriteTimersOrCounters(srv, 0x1d, 0, timers), 0xff);
    assert.equal(await h.rawWriteTimersOrCounters(srv, 0x1c, 0, counters), 0xff);
    const r = await h.read(plc, ['T0', 'T2', 'T7', 'C0', 'C2', 'C7', 'T8', 'C8']);
    assert.deepEqual(r.quality, {
      T0: 'OK', T2: 'OK', T7: 'OK', C0: 'OK', C2: 'OK', C7: 'OK',
      // 'T8' asks for timer 64: the image has 64 timers (0..63), so it does not exist.
      T8: 'BAD 255', C8: 'BAD 255',
    });
    // 'T2' → timer 16 → bytes 32..33; 'T7' → timer 56 → bytes 112..113 (read as Int16).
    assert.deepEqual(r.values, {
      T0: 0x0001, T2: 0x2021, T7: 0x7071,
      C0: (0xfffe << 16) >> 16, C2: (0xdfde << 16) >> 16, C7: (0x8f8e << 16) >> 16,
      T8: 'BAD 255', C8: 'BAD 255',
    });
  });
});

test('nodes7 timer writes are malformed, refused with a header error, and change nothing', async () => {
  await withPlc(async (plc, srv) => {
    const t0 = Date.now();
    assert.equal(await h.write(plc, 'T2', 0x1234), true);
    assert.ok(Date.now() - t0 < 4000, 'the refusal took too long');
    assert.match(srv.stderr(), /request 0x05 answered with error 0x8104/);
    // nodes7 reconnects by itself; the timer still holds zero.
    let r;
    for (let i = 0; i < 20; i++) {
      r = await h.read(plc, ['T2', 'DB1,B0']);
      if (!r.bad) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.deepEqual(r.values, { T2: 0, 'DB1,B0': 0 });
  }, { timeout: 1000 });
});

test('a missing DB, an out-of-range item and the peripheral area are BAD, the rest of the request is good', async () => {
  await withPlc(async (plc) => {
    assert.equal(await h.write(plc, 'DB1,INT0', 77), false);
    const r = await h.read(plc, ['DB99,INT0', 'DB1,INT0', 'DB1,INT1023', 'PIW0', 'DB3,B255']);
    assert.equal(r.bad, true);
    assert.deepEqual(r.quality, {
      'DB99,INT0': 'BAD 255', 'DB1,INT0': 'OK', 'DB1,INT1023': 'BAD 255', PIW0: 'BAD 255', 'DB3,B255': 'OK',
    });
    assert.equal(r.values['DB1,INT0'], 77);
    assert.equal(r.values['DB3,B255'], 0);
    // Writes: missing DB, read-only DB10 and past the end are bad; the good item lands.
    assert.equal(await h.write(plc, ['DB99,INT0', 'DB10,INT0', 'DB3,DI254', 'DB1,INT2'], [1, 2, 3, 4]), true);
    const after = await h.read(plc, ['DB1,INT2', 'DB10,INT0', 'DB3,W254']);
    assert.deepEqual(after.values, { 'DB1,INT2': 4, 'DB10,INT0': 0, 'DB3,W254': 0 });
  });
});

test('a 2048-byte array is read in parts and a 900-byte array is written in one job', async () => {
  await withPlc(async (plc) => {
    const a = Array.from({ length: 900 }, (_, i) => (i * 7 + 3) & 0xff);
    const b = Array.from({ length: 900 }, (_, i) => (i * 13 + 1) & 0xff);
    assert.equal(await h.write(plc, 'DB2,BYTE0.900', a), false);
    assert.equal(await h.write(plc, 'DB2,BYTE1148.900', b), false);
    const r = await h.read(plc, ['DB2,BYTE0.2048']);
    assert.equal(r.bad, false);
    assert.ok(plc.readPacketArray.length >= 3, `${plc.readPacketArray.length} jobs`);
    const want = [...a, ...new Array(248).fill(0), ...b];
    assert.deepEqual(r.values['DB2,BYTE0.2048'], want);
  });
});

test('two nodes7 connections read and write at the same time', async () => {
  const srv = await h.startServer();
  const plcs = [];
  try {
    plcs.push(await h.connect(srv), await h.connect(srv));
    await Promise.all(plcs.map((p, i) => h.write(p, `DB2,DI${i * 4}`, -1 - i)));
    const rs = await Promise.all(plcs.map((p) => h.read(p, ['DB2,DI0', 'DB2,DI4'])));
    for (const r of rs) assert.deepEqual(r.values, { 'DB2,DI0': -1, 'DB2,DI4': -2 });
  } finally {
    for (const p of plcs) await h.drop(p);
    await srv.stop();
  }
});
