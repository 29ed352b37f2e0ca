/**
 * Table key schemas, defined once for the CDK stack (lib/) and the local runtime (local/).
 */
export interface IndexDefinition {
  indexName: string;
  partitionKey: string;
  sortKey: string;
}

export interface TableDefinition {
  /** Logical name: the construct id in CDK and the table name prefix locally. */
  logicalName: string;
  partitionKey: string;
  /** Attribute DynamoDB's TTL deletes expired items by; absent for permanent tables. */
  timeToLiveAttribute?: string;
  /** Global secondary indexes (all attributes projected); their keys are strings. */
  indexes?: IndexDefinition[];
}

/** Powertools idempotency records: `id` is `<keyPrefix>#<hash of orderId>`. */
export const idempotencyTable: TableDefinition = {
  logicalName: 'IdempotencyKeys',
  partitionKey: 'id',
  timeToLiveAttribute: 'expiration',
};

/**
 * Pending orders by the time of their latest attempt, for the reconciler. Sparse: only a `pending`
 * record has `pendingShard`, so the index holds nothing else and is read without scanning the
 * ledger. Records spread over a few shards, so one busy partition key does not throttle every write.
 */
export const pendingIndex: IndexDefinition = {
  indexName: 'PendingByAttempt',
  partitionKey: 'pendingShard',
  sortKey: 'attemptAt',
};
export const PENDING_SHARDS = 8;

/** The permanent payments ledger: one item per order, never expired. */
export const ledgerTable: TableDefinition = {
  logicalName: 'PaymentsLedger',
  partitionKey: 'orderId',
  indexes: [pendingIndex],
};
