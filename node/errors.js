// The one error mapping of the Node binding: every rejection of the native module carries the
// core's ErrorCode as "[<number>:<NAME>] message"; it becomes a KabaseError whose `code` is the
// stable name (e.g. 'TABLE_NOT_FOUND') and `errno` the stable number (e.g. 203).
'use strict'
const native = require('./native')

/** Every error code of the core: { NAME: number }. */
const codes = Object.freeze(Object.fromEntries(native.errorCodes().map((c) => [c.name, c.code])))

class KabaseError extends Error {
  constructor(message, code, errno, options) {
    super(message, options)
    this.name = 'KabaseError'
    this.code = code
    this.errno = errno
    // kafkajs marks errors that a retry may fix.
    this.retriable = code === 'REBALANCE_IN_PROGRESS' || code === 'TIMEOUT'
  }
}

const PREFIX = /^\[(\d+):([A-Z_]+)\] ([\s\S]*)$/

/** Turn an error from the native module into a KabaseError (other errors pass through). */
function convert(err) {
  if (err instanceof KabaseError) return err
  const m = err && typeof err.message === 'string' ? PREFIX.exec(err.message) : null
  if (!m) return err
  return new KabaseError(m[3], m[2], Number(m[1]), { cause: err })
}

/** Await a native promise, converting its rejection. */
async function call(promiseOrFn) {
  try {
    return await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn)
  } catch (err) {
    throw convert(err)
  }
}

/** A KabaseError for bad arguments caught in JS before reaching the engine. */
function invalid(message) {
  return new KabaseError(message, 'INVALID_ARGUMENT', codes.INVALID_ARGUMENT)
}

module.exports = { KabaseError, codes, convert, call, invalid }
