/**
 * Table key schemas, defined once for the CDK stack (lib/) and the local runtime (local/).
 */
export interface IndexDefinition {
  indexName: string;
  partitionKey: string;
  sortKey: string;
  /** What the index holds of each item: everything (the default), or only the keys, for a reader that reads the item itself. */
  projection?: 'ALL' | 'KEYS_ONLY';
}

export interface TableDefinition {
  /** Logical name: the construct id in CDK and the table name prefix locally. */
  logicalName: string;
  partitionKey: string;
  /** Attribute DynamoDB's TTL deletes expired items by; absent for permanent tables. */
  timeToLiveAttribute?: string;
  /** Global secondary indexes; their keys are strings. */
  indexes?: IndexDefinition[];
}

/** Powertools idempotency records: `id` is `<keyPrefix>#<hash of orderId>`. */
export const idempotencyTable: TableDefinition = {
  logicalName: 'IdempotencyKeys',
  partitionKey: 'id',
  timeToLiveAttribute: 'expiration',
};
/** The key table's items of orders' personal data (adapters/personal-data.ts): only the charge functions may touch them. */
export const PERSONAL_DATA_KEY_PREFIX = 'personalData#';

/**
 * The ledger indexes spread records over this many shards (by a hash of the orderId), so one busy
 * partition key does not throttle every write; readers query each shard. Their sort keys only grow
 * (times), so DynamoDB cannot split a shard's writes: each shard gets one partition's 1,000 WRU/s.
 * The busiest index, PendingByAttempt, takes 2 writes per order (in when created, out when final):
 * 1,000 orders/s → 2,000 WRU/s → 125 per shard, an eighth of a partition (ceiling ≈ 8,000 orders/s).
 * Only ever raise it: a record keeps the shard it was written to, and readers query 0 … N − 1.
 */
export const INDEX_SHARDS = 16;

/**
 * Pending orders by the time of their latest attempt, for the reconciler. Sparse: only a `pending`
 * record has `pendingShard` (`pending#<shard>`), so the index holds nothing else and is read
 * without scanning the ledger.
 */
export const pendingIndex: IndexDefinition = {
  indexName: 'PendingByAttempt',
  partitionKey: 'pendingShard',
  sortKey: 'attemptAt',
};

/**
 * Orders by the day they were created (`<YYYY-MM-DD>#<shard>`), for the audit of a time window.
 * Keys only, which never change after creation: finalize, webhook and refund updates do not write
 * the index; the audit reads each slice's records themselves (BatchGetItem).
 */
export const createdIndex: IndexDefinition = {
  indexName: 'CreatedByDayKeys',
  partitionKey: 'createdDayShard',
  sortKey: 'createdAt',
  projection: 'KEYS_ONLY',
};

/**
 * The index it replaces (all attributes, so every update wrote it). A projection cannot change in
 * place, and CloudFormation makes at most one index per update: `-c keepCreatedByDay=true` keeps
 * it for the one deploy that adds the new one (docs/operations.md, upgrading).
 */
export const retiredCreatedIndex: IndexDefinition = { indexName: 'CreatedByDay', partitionKey: 'createdDayShard', sortKey: 'createdAt' };

/**
 * Orders with a refund not settled at Stripe yet (`requested`, `pending`, `requires_action`) by
 * its oldest change, for the reconciler. Sparse like the pending index (`refunds#<shard>` only
 * while there is one), and keys only: the reconciler reads each order's record itself.
 */
export const unsettledRefundsIndex: IndexDefinition = {
  indexName: 'UnsettledRefunds',
  partitionKey: 'unsettledRefundsShard',
  sortKey: 'unsettledRefundsSince',
  projection: 'KEYS_ONLY',
};

/** The permanent payments ledger: one item per order, never expired. */
export const ledgerTable: TableDefinition = {
  logicalName: 'PaymentsLedger',
  partitionKey: 'orderId',
  indexes: [pendingIndex, createdIndex, unsettledRefundsIndex],
};
