// Loads the native module kabase.node, built by scripts/build.js on `npm install`. npm 11 does
// not run a dependency's install script until it is approved (`npm install-scripts approve
// kabase`); when the module is missing for that reason, it is built here once, on first load.
'use strict'
const fs = require('node:fs')
const path = require('node:path')

const modulePath = path.join(__dirname, 'kabase.node')
if (!fs.existsSync(modulePath)) {
  const { spawnSync } = require('node:child_process')
  process.stderr.write('kabase: native module missing; building it with cargo (once)\n')
  const r = spawnSync(process.execPath, [path.join(__dirname, 'scripts', 'build.js')], { stdio: ['ignore', 'inherit', 'inherit'] })
  if (r.status !== 0 || !fs.existsSync(modulePath)) {
    throw new Error('kabase: building the native module failed; run `npm run build` in the kabase package')
  }
}
module.exports = require(modulePath)
