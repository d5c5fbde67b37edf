#!/usr/bin/env node
// Builds the native module with cargo (release profile, the workspace's shared target directory)
// and copies it to ./kabase.node. Runs on `npm install` (of ./node, or of this folder).
// `--force` rebuilds even when kabase.node exists; cargo itself skips work that is up to date.
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const pkgDir = path.resolve(__dirname, '..')
const root = path.resolve(pkgDir, '..')
const out = path.join(pkgDir, 'kabase.node')
const force = process.argv.includes('--force') || process.env.KABASE_NODE_REBUILD === '1'

if (fs.existsSync(out) && !force) {
  console.log(`kabase: ${out} exists (npm run build rebuilds it)`)
  process.exit(0)
}
if (!fs.existsSync(path.join(root, 'Cargo.toml'))) {
  console.error('kabase: the Rust workspace (../Cargo.toml) is missing; install from a clone of the repository')
  process.exit(1)
}
const targetDir = process.env.CARGO_TARGET_DIR || path.join(root, 'target')
const cargo = process.env.CARGO || 'cargo'
const args = ['build', '--release', '-p', 'kabase-node', '--manifest-path', path.join(root, 'Cargo.toml'), '--target-dir', targetDir]
console.log(`kabase: ${cargo} ${args.join(' ')}`)
const r = spawnSync(cargo, args, { stdio: 'inherit' })
if (r.status !== 0) {
  console.error('kabase: cargo build failed')
  process.exit(r.status || 1)
}
const lib = { linux: 'libkabase_node.so', darwin: 'libkabase_node.dylib', win32: 'kabase_node.dll' }[process.platform]
if (!lib) {
  console.error(`kabase: unsupported platform ${process.platform}`)
  process.exit(1)
}
fs.copyFileSync(path.join(targetDir, 'release', lib), out)
console.log(`kabase: built ${out}`)
