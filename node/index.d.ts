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
  /** Stream every committed mutation of `table` into `topic` (null: `default.<table>`), exactly once. */
  streamTableToTopic(table: string, topic?: string | null, options?: StreamOptions): Promise<ChangeStream>
  /** Consume `topic` into `table` exactly once. */
  sinkTopicToTable(topic: string, table: string, options?: SinkOptions): Promise<ChangeStream>
  changeStream(name: string): Promise<ChangeStream>
  listStreams(): Promise<StreamDescription[]>
}

export interface StreamRoute {
  /** 'route' (default) or 'drop'. */
  action?: 'route' | 'drop'
  /** Table pattern: exact, `prefix*`, `*suffix`, `*infix*` or `*`. */
  table: string
  family?: string
  qualifier?: string
  topics?: string[]
}

export interface StreamOptions {
  /** Default `<table>-to-<topic>`. */
  name?: string
  /** 'rowKey' (default), 'family', a partition number, or 'fixed:<n>'. */
  partitioning?: 'rowKey' | 'row_key' | 'family' | number | string
  /** One record per row mutation ('row', default) or per cell. */
  shape?: 'row' | 'cell'
  format?: 'json' | 'binary'
  bytes?: 'auto' | 'base64'
  compression?: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'
  partitions?: number
  maxLag?: number
  routes?: StreamRoute[]
}

export interface SinkOptions {
  /** Default `<topic>-to-<table>`. */
  name?: string
  /** Family of JSON fields without a `family:` prefix. */
  defaultFamily?: string
  /** Row key from this JSON field instead of the record key. */
  rowKeyField?: string
}

export interface StreamDescription {
  name: string
  kind: 'table_to_topic' | 'topic_to_table'
  table: string
  topics: string[]
  state: 'running' | 'paused' | 'failed'
  error: string | null
  position: number
  lag: number
  offsets: Array<{ partition: number; offset: string }>
}

export interface StreamSnapshot {
  seq: number
  rows: Array<{ row: Buffer; data: RowData }>
  offsets: TopicPartitionOffset[]
}

/** A durable change stream, by name. */
export class ChangeStream {
  readonly name: string
  describe(): Promise<StreamDescription>
  pause(): Promise<void>
  resume(): Promise<void>
  remove(): Promise<void>
  waitCaughtUp(options?: { timeout?: number }): Promise<StreamDescription>
  snapshot(): Promise<StreamSnapshot>
}

export class Table {
  readonly name: string
  /** This table's changes into `topic` (null: `default.<table>`). */
  streamTo(topic?: string | null, options?: StreamOptions): Promise<ChangeStream>
  /** A topic's records into this table. */
  sinkFrom(topic: string, options?: SinkOptions): Promise<ChangeStream>
  put(row: Bytes, data: Record<string, Bytes>): Promise<void>
  get(row: Bytes, options?: { columns?: string[] }): Promise<RowData | null>
  /** Many rows in one call: per key, in key order, the row's data or null. */
  getMany(rows: Bytes[]): Promise<Array<RowData | null>>
  /** Many rows in one call (happybase's `rows`): the rows that exist, in key order. */
  rows(rows: Bytes[]): Promise<Array<{ row: Buffer; data: RowData }>>
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
  /** A null (or undefined) value is Kafka's null header value. */
  headers?: Record<string, Bytes | null | undefined>
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
  /** null for a header sent with a null value. */
  headers: Record<string, Buffer | null>
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
  offsetLag(): string
  offsetLagLow(): string
}

export interface TopicOffsets {
  topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>
}

export interface EachBatchPayload {
  batch: Batch
  resolveOffset(offset: string): void
  /** Rejects with REBALANCE_IN_PROGRESS while the group rebalances. */
  heartbeat(): Promise<void>
  /** Commit the resolved offsets now (with autoCommit), or the given ones. */
  commitOffsetsIfNecessary(offsets?: TopicOffsets): Promise<void>
  uncommittedOffsets(): TopicOffsets
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
  producer(config?: { idempotent?: boolean; transactionalId?: string; transactionTimeout?: number }): Producer
  consumer(config?: {
    groupId?: string
    maxBytesPerPartition?: number
    maxBytes?: number
    /** Default false: read_committed, as kafkajs. */
    readUncommitted?: boolean
    maxPollRecords?: number
    sessionTimeout?: number
    heartbeatInterval?: number
    rebalanceTimeout?: number
  }): Consumer
  admin(): Admin
}

export class Producer {
  /** With a transactionalId: registers it (fencing an older producer with the same id). */
  connect(): Promise<void>
  /** Begin a transaction (needs transactionalId). */
  transaction(): Promise<Transaction>
  send(record: { topic: string; messages: Message[]; acks?: number }): Promise<RecordMetadata[]>
  sendBatch(batch: { topicMessages: Array<{ topic: string; messages: Message[] }> }): Promise<RecordMetadata[]>
  flush(): Promise<void>
  disconnect(): Promise<void>
}

export class Transaction {
  send(record: { topic: string; messages: Message[]; acks?: number }): Promise<RecordMetadata[]>
  sendBatch(batch: { topicMessages: Array<{ topic: string; messages: Message[] }> }): Promise<RecordMetadata[]>
  /** Commit a consumer group's offsets atomically with the transaction. */
  sendOffsets(offsets: { consumerGroupId: string; topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }> }): Promise<void>
  commit(): Promise<void>
  abort(): Promise<void>
  isActive(): boolean
}

export interface TopicPartitions {
  topic: string
  partitions?: number[]
}

export class Consumer {
  readonly events: { CRASH: 'consumer.crash'; STOP: 'consumer.stop' }
  on(event: string, listener: (event: { type: string; timestamp: number; payload: any }) => void): () => void
  connect(): Promise<void>
  /** RegExps match anywhere in a topic's name (as kafkajs) and follow topics created later; they need a groupId. */
  subscribe(subscription: { topics?: Array<string | RegExp>; topic?: string | RegExp; fromBeginning?: boolean }): Promise<void>
  pause(topicPartitions: TopicPartitions[]): void
  resume(topicPartitions: TopicPartitions[]): void
  paused(): Array<{ topic: string; partitions: number[] }>
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
