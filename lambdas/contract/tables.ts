/**
 * Table key schemas, defined once for the CDK stack (lib/) and the local runtime (local/).
 */
export interface TableDefinition {
  /** Logical name: the construct id in CDK and the table name prefix locally. */
  logicalName: string;
  partitionKey: string;
  /** Attribute DynamoDB's TTL deletes expired items by; absent for permanent tables. */
  timeToLiveAttribute?: string;
}

/** Powertools idempotency records: `id` is `<keyPrefix>#<hash of orderId>`. */
export const idempotencyTable: TableDefinition = {
  logicalName: 'IdempotencyKeys',
  partitionKey: 'id',
  timeToLiveAttribute: 'expiration',
};

/** The permanent payments ledger: one item per order, never expired. */
export const ledgerTable: TableDefinition = {
  logicalName: 'PaymentsLedger',
  partitionKey: 'orderId',
};
