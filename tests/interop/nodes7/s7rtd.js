'use strict';
// Starts a real s7rtd for one test and wraps nodes7's callback API in promises that cannot
// hang: every call has a deadline, so a server that never answers fails the test.
//
//   const srv = await startServer(TEST_CONFIG);       // --no-rt --listen 127.0.0.1:0
//   const plc = await connect(srv);                    // nodes7, rack 0 slot 1
//   const { bad, values } = await read(plc, ['DB1,INT0']);
//   const bad = await write(plc, ['DB1,INT0'], [7]);
//   await drop(plc); await srv.stop();                 // stop() asserts exit 0, no panic

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..', '..');
const S7RTD = process.env.S7RTD || path.join(REPO, 'target', 'debug', 's7rtd');
const NodeS7 = require(path.join(REPO, 'target', 'node', 'node_modules', 'nodes7'));

const START_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 10000;
const CALL_TIMEOUT_MS = 5000;
const LISTEN_PREFIX = 's7rtd: listening on ';

// The interop test image, shared with the python suites (tests/interop/s7image.py).
const TEST_CONFIG = fs.readFileSync(path.join(__dirname, '..', 'test-image.toml'), 'utf8');

/** Rejects with `what` when `promise` has not settled within `ms`. */
function deadline(promise, what, ms = CALL_TIMEOUT_MS) {
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Starts `s7rtd --no-rt --listen 127.0.0.1:0 --config <tmp>`; resolves once it listens. */
async function startServer(config = TEST_CONFIG, args = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's7rtd-nodes7-'));
  const cfg = path.join(dir, 's7rtd.toml');
  fs.writeFileSync(cfg, config);
  const cmd = ['--no-rt', '--listen', '127.0.0.1:0', '--config', cfg, ...args];
  const proc = spawn(S7RTD, cmd, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  let stdout = '';
  const listening = new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      stdout += d;
      const line = stdout.split('\n').find((l) => l.startsWith(LISTEN_PREFIX));
      if (line) {
        const addr = line.slice(LISTEN_PREFIX.length).trim();
        const i = addr.lastIndexOf(':');
        resolve({ host: addr.slice(0, i), port: Number(addr.slice(i + 1)) });
      }
    });
    exited.then((e) => reject(new Error(`s7rtd exited before listening (${JSON.stringify(e)})\n${stderr}`)));
  });
  let addr;
  try {
    addr = await deadline(listening, `s7rtd start (${S7RTD} ${cmd.join(' ')})`, START_TIMEOUT_MS);
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
  // The capture check (tests/interop/capture) decodes exactly the ports listed here.
  if (process.env.S7RT_PORT_LOG) fs.appendFileSync(process.env.S7RT_PORT_LOG, `${addr.port}\n`);
  return {
    ...addr,
    stderr: () => stderr,
    /** SIGTERM, bounded wait; throws unless the daemon exited 0 without a panic. */
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      let e;
      try {
        e = await deadline(exited, 's7rtd stop (SIGTERM)', STOP_TIMEOUT_MS);
      } catch (err) {
        proc.kill('SIGKILL');
        throw err;
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      if (stderr.includes('panicked')) throw new Error(`s7rtd panicked:\n${stderr}`);
      if (e.code !== 0) throw new Error(`s7rtd exited with ${JSON.stringify(e)}\n${stderr}`);
    },
  };
}

/** A nodes7 connection to `srv` (rack 0, slot 1 unless `opts` says otherwise). */
async function connect(srv, opts = {}) {
  const plc = new NodeS7({ silent: !process.env.NODES7_DEBUG, debug: !!process.env.NODES7_DEBUG });
  await deadline(new Promise((resolve, reject) => {
    plc.initiateConnection({ port: srv.port, host: srv.host, rack: 0, slot: 1, timeout: 3000, ...opts },
      (err) => (err === undefined ? resolve() : reject(err)));
  }), 'nodes7 initiateConnection');
  return plc;
}

/** Replaces the polling list with `items` and reads them: `{ bad, values, quality }`. */
async function read(plc, items) {
  plc.removeItems();
  plc.addItems(items);
  const r = await deadline(new Promise((resolve) => {
    plc.readAllItems((bad, values) => resolve({ bad, values }));
  }), `nodes7 readAllItems ${items.length} items`);
  r.quality = {};
  for (const it of items) r.quality[it] = plc.findItem(it).quality;
  return r;
}

/** Writes `values` to `items` in one writeItems call; resolves to nodes7's "anything bad". */
async function write(plc, items, values) {
  return deadline(new Promise((resolve, reject) => {
    const busy = plc.writeItems(items, values, (bad) => resolve(bad));
    if (busy !== 0) reject(new Error('nodes7 writeItems refused: a write is still in progress'));
  }), `nodes7 writeItems ${items}`);
}

/** Closes the connection; nodes7 stops reconnecting after this. */
async function drop(plc) {
  await deadline(new Promise((resolve) => plc.dropConnection(() => resolve())), 'nodes7 dropConnection');
  // On 'close' nodes7 also arms a 3.5 s "timed reset" of the socket it just closed
  // (connectionReset); it would only keep the test process alive, so cancel it.
  clearTimeout(plc.resetTimeout);
  plc.resetTimeout = undefined;
}

module.exports = { TEST_CONFIG, startServer, connect, read, write, drop, deadline };

// ---- A minimal raw S7 writer, used only to seed the timer/counter areas: nodes7's own
// timer/counter writes are malformed (see nodes7.test.js), so known bytes get there this way.

const net = require('node:net');

/** Sends one TPKT frame on `sock` and resolves to the next whole TPKT frame received. */
function exchange(sock, frame) {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 4 && buf.length >= buf.readUInt16BE(2)) {
        sock.off('data', onData);
        sock.off('error', reject);
        resolve(buf.subarray(0, buf.readUInt16BE(2)));
      }
    };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.write(frame);
  });
}

function tpkt(payload) {
  const head = Buffer.from([0x03, 0x00, 0x00, 0x00, 0x02, 0xf0, 0x80]);
  head.writeUInt16BE(head.length + payload.length, 2);
  return Buffer.concat([head, payload]);
}

/**
 * Writes `data` (whole 2-byte elements) to timers (area 0x1D) or counters (0x1C) from element
 * `first` on with one Write Var item of the area's own transport size, on a fresh connection
 * (rack 0 slot 1, PDU 960). Resolves to the item's return code (0xFF = success).
 */
async function rawWriteTimersOrCounters(srv, area, first, data) {
  const sock = net.connect(srv.port, srv.host);
  try {
    await deadline(new Promise((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    }), 'raw connect');
    const cr = Buffer.from([0x03, 0x00, 0x00, 0x16, 0x11, 0xe0, 0x00, 0x00, 0x00, 0x01, 0x00,
      0xc0, 0x01, 0x0a, 0xc1, 0x02, 0x01, 0x00, 0xc2, 0x02, 0x01, 0x01]);
    const cc = await deadline(exchange(sock, cr), 'raw COTP CR');
    if (cc[5] !== 0xd0) throw new Error(`raw COTP: no CC (${cc.toString('hex')})`);
    const setup = Buffer.from([0x32, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00,
      0xf0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x03, 0xc0]);
    const ack = await deadline(exchange(sock, tpkt(setup)), 'raw setup communication');
    if (ack[8] !== 0x03 || ack[17] !== 0 || ack[18] !== 0) throw new Error(`raw setup refused (${ack.toString('hex')})`);
    const param = Buffer.from([0x05, 0x01, 0x12, 0x0a, 0x10, area, 0x00, 0x00, 0x00, 0x00, area, 0x00, 0x00, 0x00]);
    param.writeUInt16BE(data.length / 2, 6);
    param.writeUIntBE(first, 11, 3);
    const item = Buffer.concat([Buffer.from([0x00, 0x09, 0x00, 0x00]), data]);
    item.writeUInt16BE(data.length, 2); // octet string: length in bytes
    const head = Buffer.from([0x32, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00]);
    head.writeUInt16BE(param.length, 6);
    head.writeUInt16BE(item.length, 8);
    const res = await deadline(exchange(sock, tpkt(Buffer.concat([head, param, item]))), 'raw write var');
    // TPKT 4 + COTP 3 + S7 header 12 + param `05 01` → the return code at offset 21.
    if (res[8] !== 0x03 || res[17] !== 0 || res[18] !== 0) throw new Error(`raw write refused (${res.toString('hex')})`);
    return res[21];
  } finally {
    sock.destroy();
  }
}

module.exports.rawWriteTimersOrCounters = rawWriteTimersOrCounters;
