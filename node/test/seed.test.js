'use strict'
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { seed } = require('../examples/seed')

const expected = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'scenario', 'seed.txt'), 'utf8')

test('seed flow prints the shared transcript (in memory)', async () => {
  const lines = []
  await seed(undefined, (l) => lines.push(l))
  assert.strictEqual(lines.map((l) => l + '\n').join(''), expected)
})

test('seed flow prints the shared transcript (data directory)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kabase-node-'))
  try {
    const lines = []
    await seed(path.join(dir, 'data'), (l) => lines.push(l))
    assert.strictEqual(lines.map((l) => l + '\n').join(''), expected)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
