'use strict'
// Odd arguments of every type (huge and escaping-heavy row keys, scan bounds past the key limit,
// bad timeouts, wrong types) at the tables, producer, admin and stream APIs, seeded, and the same
// after close: each call may reject with an Error, but the process must not abort. Before the
// core checked its keys against the storage limit, these seeds aborted Node (SIGABRT) on a
// Rust panic in the addon.
const test = require('node:test')
const assert = require('node:assert')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

for (const seed of [1, 2, 3, 4]) {
  test(`odd arguments never crash the process (seed ${seed})`, () => {
    const r = spawnSync(process.execPath, [path.join(__dirname, '..', 'test-support', 'odd_arguments.js'), String(seed)], {
      encoding: 'utf8',
      timeout: 120000
    })
    assert.strictEqual(r.signal, null, `killed by ${r.signal}: ${r.stderr.slice(0, 2000)}`)
    assert.strictEqual(r.status, 0, r.stdout + r.stderr.slice(0, 2000))
    assert.match(r.stdout, new RegExp(`seed ${seed} calls \\d+ ok`))
  })
}
