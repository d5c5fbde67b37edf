'use strict'
// index.d.ts is hand-written; this test keeps it from drifting from index.js: every export and
// every public method/getter of the exported classes must be declared, and the file must
// type-check with tsc (a devDependency).
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const kabase = require('..')

const dts = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8')

function classBody(name) {
  const start = dts.indexOf(`export class ${name} `)
  assert.ok(start >= 0, `index.d.ts lacks class ${name}`)
  let depth = 0
  for (let i = dts.indexOf('{', start); i < dts.length; i++) {
    if (dts[i] === '{') depth++
    if (dts[i] === '}' && --depth === 0) return dts.slice(start, i)
  }
  throw new Error(`unbalanced class ${name}`)
}

test('every export of index.js is declared in index.d.ts', () => {
  for (const name of Object.keys(kabase)) {
    assert.match(dts, new RegExp(`export (class|const|function) ${name}\\b`), `index.d.ts lacks export ${name}`)
  }
})

test('every public method of the exported classes is declared', () => {
  for (const name of ['Engine', 'Table', 'ChangeStream', 'Kafka', 'Producer', 'Transaction', 'Consumer', 'Admin']) {
    const body = classBody(name)
    const proto = kabase[name].prototype
    for (const member of Object.getOwnPropertyNames(proto)) {
      if (member === 'constructor' || member.startsWith('_')) continue
      assert.match(body, new RegExp(`\\b(readonly )?${member}\\b`), `index.d.ts class ${name} lacks ${member}`)
    }
  }
})

test('index.d.ts type-checks', () => {
  const tsc = path.join(__dirname, '..', 'node_modules', 'typescript', 'bin', 'tsc')
  assert.ok(fs.existsSync(tsc), 'typescript is not installed: run npm install in node/')
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--types', 'node', path.join(__dirname, '..', 'index.d.ts')], { encoding: 'utf8' })
  assert.strictEqual(r.status, 0, r.stdout + r.stderr)
})
