// Hand-written types of the npm package `kabase` (index.js). test/dts.test.js checks that every
// export and method of index.js is declared here, and that this file type-checks with tsc.

/// <reference types="node" />

/** Every error from the engine: `code` is the core's stable ErrorCode name, `errno` its number. */
export class KabaseError extends Error {
  readonly name: 'KabaseError'
  readonly code: string
  readonly errno: number
  readonly retriable: boolean
}

/** The core's error codes by name, e.g. `codes.TABLE_NOT_FOUND === 203`. */
export const codes: Readonly<Record<string, number>>

/** The kabase version (the workspace version). */
export const version: string

export type Bytes = string | Buffer | Uint8Array

export interface OpenOptions {
  /** Data directory; default $KABASE_DATA_DIR, else ./kabase-data. */
  path?: string
  /** Keep nothing once closed. */
  inMemory?: boolean
}

/** Open an engine. */
export function open(options?: OpenOptions): Promise<Engine>

export interface Cell {
  family: string
  qualifier: string
  timestamp: number
  value: Buffer
}

/** A row's columns: `{ 'family:qualifier': value }`. */
export type RowData = Record<string, Buffer>

export interface ScanOptions {
  start?: Bytes
  stop?: Bytes
  prefix?: Bytes
  limit?: number
  reversed?: boolean
}

export class Engine {
  readonly path: string
  close(): Promise<void>
  createTable(name: string, families: string[] | { families: string[] }): Promise<void>
  deleteTable(name: string): Promise<void>
  listTables(): Promise<string[]>
  table(name: string): Promise<Table>
  createTopic(name: string, partitions?: number): Promise<void>
  deleteTopic(name: string): Promise<void>
  listTopics(): Promise<string[]>
}

export class Table {
  readonly name: string
  put(row: Bytes, data: Record<string, Bytes>): Promise<void>
  get(row: Bytes, options?: { columns?: string[] }): Promise<RowData | null>
  getCells(row: Bytes, options?: { columns?: string[] }): Promise<Cell[] | null>
  delete(row: Bytes, options?: { columns?: string[] }): Promise<void>
  scan(options?: ScanOptions): Promise<Array<{ row: Buffer; data: RowData }>>
}

export interface KafkaConfig {
  /** Loopback addresses only: they name the embedded engine. */
  brokers?: string | string[]
  clientId?: string
  /** Share an engine opened with open(). */
  engine?: Engine
  dataDir?: string
  inMemory?: boolean
}

export interface Message {
  key?: Bytes | null
  value: Bytes | null
  partition?: number
  headers?: Record<string, Bytes>
  timestamp?: string | number
}

export interface RecordMetadata {
  topicName: string
  partition: number
  errorCode: number
  baseOffset: string
  logAppendTime: string
  logStartOffset: string
}

export interface KafkaMessage {
  key: Buffer | null
  value: Buffer | null
  offset: string
  timestamp: string
  headers: Record<string, Buffer>
  attributes: number
  size: number
}

export interface EachMessagePayload {
  topic: string
  partition: number
  message: KafkaMessage
  heartbeat(): Promise<void>
  pause(): () => void
}

export interface Batch {
  topic: string
  partition: number
  messages: KafkaMessage[]
  highWatermark: string
  isEmpty(): boolean
  firstOffset(): string | null
  lastOffset(): string
}

export interface EachBatchPayload {
  batch: Batch
  resolveOffset(offset: string): void
  heartbeat(): Promise<void>
  commitOffsetsIfNecessary(): Promise<void>
  uncommittedOffsets(): { topics: unknown[] }
  isRunning(): boolean
  isStale(): boolean
  pause(): () => void
}

export interface TopicPartitionOffset {
  topic: string
  partition: number
  offset: string
}

export class Kafka {
  constructor(config?: KafkaConfig)
  producer(config?: { idempotent?: boolean; transactionalId?: string }): Producer
  consumer(config?: { groupId?: string; maxBytesPerPartition?: number; readUncommitted?: boolean; maxPollRecords?: number }): Consumer
  admin(): Admin
}

export class Producer {
  connect(): Promise<void>
  send(record: { topic: string; messages: Message[]; acks?: number }): Promise<RecordMetadata[]>
  sendBatch(batch: { topicMessages: Array<{ topic: string; messages: Message[] }> }): Promise<RecordMetadata[]>
  flush(): Promise<void>
  disconnect(): Promise<void>
}

export class Consumer {
  readonly events: { CRASH: 'consumer.crash'; STOP: 'consumer.stop' }
  on(event: string, listener: (event: { type: string; timestamp: number; payload: any }) => void): () => void
  connect(): Promise<void>
  subscribe(subscription: { topics?: string[]; topic?: string; fromBeginning?: boolean }): Promise<void>
  run(config: {
    eachMessage?: (payload: EachMessagePayload) => Promise<void>
    eachBatch?: (payload: EachBatchPayload) => Promise<void>
    autoCommit?: boolean
    eachBatchAutoResolve?: boolean
    partitionsConsumedConcurrently?: number
  }): Promise<void>
  commitOffsets(offsets: TopicPartitionOffset[]): Promise<void>
  committed(partitions: Array<{ topic: string; partition: number }>): Promise<TopicPartitionOffset[]>
  seek(target: TopicPartitionOffset): Promise<void>
  stop(): Promise<void>
  disconnect(): Promise<void>
}

export class Admin {
  connect(): Promise<void>
  createTopics(options: { topics: Array<{ topic: string; numPartitions?: number }> }): Promise<boolean>
  deleteTopics(options: { topics: string[] }): Promise<void>
  listTopics(): Promise<string[]>
  createTable(name: string, families: string[] | { families: string[] }): Promise<void>
  deleteTable(name: string): Promise<void>
  listTables(): Promise<string[]>
  disconnect(): Promise<void>
}
