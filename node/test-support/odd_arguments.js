'use strict'
// Odd arguments of every type at the Node API, seeded (argv[2]); run by test/odd_arguments.test.js in
// a child process, because a Rust panic inside the addon aborts the whole process. Prints
// "seed N calls M ok" at the end; any thrown value that is not an Error fails it.
const kabase = require('..')
const seed = Number(process.argv[2] || 1);
let s = seed;
const rnd = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
const pick = (a) => a[Math.floor(rnd() * a.length)];
const ODD = [undefined, null, 0, -1, 2 ** 53, -(2 ** 53), 1.5, NaN, Infinity, -Infinity, '', 'x', 'a:b', ':', 'cf:',
  Buffer.alloc(0), Buffer.from([0]), Buffer.alloc(70000, 120), Buffer.alloc(32767, 0), 'x'.repeat(300), [], [1], ['a', null],
  {}, { a: 1 }, { 'cf:q': 'v' }, { 'cf:q': null }, { 'cf:q': 5 }, true, 10n, () => 1, new Error('e'), 'bad name!', 'ns:t',
  { timeout: 1e300 }, { timeout: -1 }, { columns: [5] }, { start: Buffer.alloc(70000, 1) }, { prefix: Buffer.alloc(32767, 0) },
  { limit: -5 }, { limit: 1e20 }, { reversed: 'yes' }, { topic: 't', messages: [{ value: 5 }] },
  { topic: 't', messages: [{ value: 'v', partition: 99 }] }, { topic: '', messages: [] }, { topic: 't', messages: null },
  { topic: 't', messages: [{ value: Buffer.alloc(3 << 20) }] }, { topics: ['t'] }, { topics: [5] }, { topic: /t/ }];
let calls = 0;
async function call(f) {
  calls++;
  try { await f(); } catch (e) { if (!(e instanceof Error)) throw new Error('non-Error thrown: ' + e); }
}
(async () => {
  const eng = await kabase.open({ inMemory: true });
  await eng.createTable('t', ['cf', 'cg']);
  const t = await eng.table('t');
  await eng.createTopic('t', 1);
  const kafka = new kabase.Kafka({ engine: eng });
  const p = kafka.producer();
  await p.connect();
  const admin = kafka.admin();
  await call(() => admin.connect());
  const stream = await eng.streamTableToTopic('t', 'tcdc');
  const tm = ['put', 'get', 'getMany', 'rows', 'getCells', 'delete', 'scan'];
  const em = ['createTable', 'deleteTable', 'table', 'createTopic', 'deleteTopic', 'changeStream'];
  const pm = ['send', 'sendBatch', 'flush'];
  const am = Object.getOwnPropertyNames(Object.getPrototypeOf(admin)).filter((n) => n !== 'constructor' && n !== 'disconnect');
  for (let i = 0; i < 1500; i++) {
    const args = Array.from({ length: Math.floor(rnd() * 3) }, () => pick(ODD));
    const k = rnd();
    if (k < 0.4) { const m = pick(tm); await call(() => t[m](...args)); }
    else if (k < 0.55) { const m = pick(em); if (args[0] === 't') continue; await call(() => eng[m](...args)); }
    else if (k < 0.75) { const m = pick(pm); await call(() => p[m](...args)); }
    else if (k < 0.9) { const m = pick(am); if (args[0] && args[0].timeout === 1e300) continue; await call(() => admin[m](...args)); }
    else { await call(() => stream.waitCaughtUp(pick([{ timeout: 1e300 }, { timeout: -1 }, { timeout: NaN }, { timeout: 10 }]))); }
  }
  await p.disconnect();
  await eng.close();
  for (const m of tm) await call(() => t[m]('r', { 'cf:q': 'v' }));
  for (const m of pm) await call(() => p[m]({ topic: 't', messages: [{ value: 'v' }] }));
  console.log('seed', seed, 'calls', calls, 'ok');
})().catch((e) => { console.log('FAIL', e); process.exit(2); });
