import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { BEFORE_NAMESPACES } from '../contract/payment-metadata';
import { createdIndex, INDEX_SHARDS, type IndexDefinition, ledgerTable, pendingIndex, unsettledRefundsIndex } from '../contract/tables';
import { type LedgerFact, type LedgerRecord, namespaceOf, type OrderChannel, type PaymentsLedger } from '../core/charge-order';
import { PaymentInProgressError, StoreUnavailableError } from '../core/errors';
import type { DisputeUpdate, FactOutcome, LedgerObserver, PaymentStatusUpdate } from '../core/payment-events';
import type { PendingLedger } from '../core/reconcile-pending';
import type { UnsettledRefunds } from '../core/reconcile-refunds';
import type { RefundState, RefundsLedger } from '../core/refund-order';

/** The index keys of a record (contract/tables.ts); the pending one only while it is pending. */
interface IndexKeys {
  pendingShard?: string;
  createdDayShard?: string;
}

/** A stable shard per order, so its writes always land on the same index partition keys. */
function shardOf(orderId: string): number {
  return createHash('sha256').update(orderId).digest().readUInt32BE(0) % INDEX_SHARDS;
}
const pendingShardOf = (orderId: string) => pendingShardKey(shardOf(orderId));
const unsettledRefundsShardKey = (shard: number) => `refunds#${shard}`;
const unsettledRefundsShardOf = (orderId: string) => unsettledRefundsShardKey(shardOf(orderId));
const UNSETTLED_REFUNDS_KEYS = [unsettledRefundsIndex.partitionKey, unsettledRefundsIndex.sortKey];
const pendingShardKey = (shard: number) => `pending#${shard}`;
const createdDayShardKey = (createdAt: string, shard: number) => `${createdAt.slice(0, 10)}#${shard}`;

/** The payments ledger in DynamoDB: the order's permanent record, keyed on orderId. */
export function createDynamoDbLedger(client: DynamoDBClient, tableName: string): PaymentsLedger {
  const documents = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const key = ledgerTable.partitionKey;

  /**
   * Applies an update only to a pending (or expired) record: a final state is never overwritten
   * by a late or repeated attempt. Returns the record as it is after: this update's, or the one
   * that stopped it; undefined when there is none (withdrawn).
   */
  async function moveResumable(orderId: string, update: ReturnType<typeof setExpression>, action: string): Promise<LedgerRecord | undefined> {
    try {
      const { Attributes } = await documents.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { [key]: orderId },
          ...update,
          ConditionExpression: '#status IN (:pendingStatus, :expired)',
          ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':pendingStatus': 'pending', ':expired': 'expired' },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return Attributes as LedgerRecord;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return error.Item && (unmarshall(error.Item) as LedgerRecord);
      throw storeError(action, error);
    }
  }

  return {
    async createPendingOrGet(record: LedgerRecord) {
      const pending: LedgerRecord & IndexKeys = {
        ...record,
        pendingShard: pendingShardOf(record.orderId),
        ...createdIndexKeysOf(record),
      };
      try {
        // Unique constraint and check-before-write in one request: the old item comes back on conflict.
        await documents.send(
          new PutCommand({
            TableName: tableName,
            Item: pending,
            ConditionExpression: 'attribute_not_exists(#key)',
            ExpressionAttributeNames: { '#key': key },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return undefined;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException && error.Item) return unmarshall(error.Item) as LedgerRecord;
        throw storeError('create the ledger record', error);
      }
    },

    // A new attempt makes the record pending again, its index key back, attempted now.
    markAttempt: (orderId: string, channel: OrderChannel, now: string, attemptId: string) => {
      const update = setExpression({ status: 'pending', attemptAt: now, attemptId, pendingShard: pendingShardOf(orderId), updatedAt: now }, []);
      const withChannel = {
        UpdateExpression: `${update.UpdateExpression}, #channel = if_not_exists(#channel, :channel)`,
        ExpressionAttributeNames: { ...update.ExpressionAttributeNames, '#channel': 'channel' },
        ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':channel': channel },
      };
      return moveResumable(orderId, withChannel, 'mark the charge attempt');
    },

    async finalize(orderId: string, fact: LedgerFact, now: string) {
      const action = 'finalize the ledger record';
      const record = await moveResumable(orderId, setExpression({ ...fact, updatedAt: now }), action);
      // Only a refused request's record is ever withdrawn, never one a charge works on.
      if (record === undefined) throw storeError(action, new Error(`no ledger record for order ${orderId}`));
      return record;
    },

    async releasePending(orderId: string, attemptId?: string) {
      const ofAttempt = attemptId !== undefined;
      try {
        await documents.send(
          new DeleteCommand({
            TableName: tableName,
            Key: { [key]: orderId },
            ConditionExpression: ofAttempt ? '#status = :pending AND #attemptId = :attemptId' : '#status = :pending',
            ExpressionAttributeNames: { '#status': 'status', ...(ofAttempt && { '#attemptId': 'attemptId' }) },
            ExpressionAttributeValues: { ':pending': 'pending', ...(ofAttempt && { ':attemptId': attemptId }) },
          }),
        );
      } catch (error) {
        // Already final or gone: there is nothing pending to release.
        if (error instanceof ConditionalCheckFailedException) return;
        throw storeError('release the ledger record', error);
      }
    },
  };
}

/**
 * Writes a Stripe webhook fact as a forward-only update of the order's record. It lands only on a
 * record the charge path created (a fact never creates one) in the payment's namespace, with the same amount and currency,
 * about the order's own PaymentIntent (or none yet), and only if the record holds no newer fact.
 */
export function createLedgerFactWriter(client: DynamoDBClient, tableName: string, now: () => Date = () => new Date()) {
  const documents = DynamoDBDocumentClient.from(client);
  const key = ledgerTable.partitionKey;
  return async (update: PaymentStatusUpdate & { orderId: string }): Promise<FactOutcome> => {
    const { orderId, version, eventId, amount, currency, namespace, ...fact } = update;
    const sameNamespace = namespace === BEFORE_NAMESPACES ? 'attribute_not_exists(#namespace)' : '#namespace = :namespace';
    const expression = setExpression({ ...fact, factVersion: version, lastEventId: eventId, updatedAt: now().toISOString() });
    try {
      await documents.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { [key]: orderId },
          ...expression,
          ConditionExpression: [
            'attribute_exists(#key)',
            sameNamespace,
            '#amount = :amount AND #currency = :currency',
            '(attribute_not_exists(#factVersion) OR #factVersion < :factVersion)',
            '(attribute_not_exists(#paymentId) OR #paymentId = :paymentId)',
          ].join(' AND '),
          ExpressionAttributeNames: {
            ...expression.ExpressionAttributeNames,
            '#key': key,
            '#namespace': 'namespace',
            '#amount': 'amount',
            '#currency': 'currency',
          },
          ExpressionAttributeValues: {
            ...expression.ExpressionAttributeValues,
            ...(namespace !== BEFORE_NAMESPACES && { ':namespace': namespace }),
            ':amount': amount,
            ':currency': currency,
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'applied';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw storeError('write the webhook fact', error);
      if (error.Item === undefined) return 'unknown_order';
      const current = unmarshall(error.Item) as LedgerRecord;
      if (namespaceOf(current) !== namespace) return 'other_namespace';
      const otherPayment =
        current.amount !== amount || current.currency !== currency || (current.paymentId !== undefined && current.paymentId !== fact.paymentId);
      return otherPayment ? 'conflict' : 'stale';
    }
  };
}

/**
 * Writes a Stripe fact about the dispute of an order's payment, forward-only like the payment
 * facts: on the record of the same namespace and PaymentIntent, unless it holds a newer one.
 */
export function createDisputeFactWriter(client: DynamoDBClient, tableName: string, observer?: LedgerObserver, now: () => Date = () => new Date()) {
  const documents = DynamoDBDocumentClient.from(client);
  const key = ledgerTable.partitionKey;
  return async ({ orderId, namespace, paymentId, dispute, eventId }: DisputeUpdate & { orderId: string }): Promise<FactOutcome> => {
    const sameNamespace = namespace === BEFORE_NAMESPACES ? 'attribute_not_exists(#namespace)' : '#namespace = :namespace';
    // This write's own time: it tells whether this write opened the dispute, and finds it again if its answer was lost.
    const at = now().toISOString();
    const opened = (record: LedgerRecord) => {
      if (record.disputeOpenedAt === at) observer?.disputeOpened();
    };
    try {
      const { Attributes } = await documents.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { [key]: orderId },
          UpdateExpression: 'SET #dispute = :dispute, #lastEventId = :eventId, #updatedAt = :now, #disputeOpenedAt = if_not_exists(#disputeOpenedAt, :now)',
          ReturnValues: 'ALL_NEW',
          ConditionExpression: `attribute_exists(#key) AND ${sameNamespace} AND #paymentId = :paymentId AND (attribute_not_exists(#dispute) OR #dispute.#factVersion < :version)`,
          ExpressionAttributeNames: {
            '#key': key,
            '#namespace': 'namespace',
            '#paymentId': 'paymentId',
            '#dispute': 'dispute',
            '#factVersion': 'factVersion',
            '#lastEventId': 'lastEventId',
            '#updatedAt': 'updatedAt',
            '#disputeOpenedAt': 'disputeOpenedAt',
          },
          ExpressionAttributeValues: {
            ...(namespace !== BEFORE_NAMESPACES && { ':namespace': namespace }),
            ':paymentId': paymentId,
            ':dispute': dispute,
            ':version': dispute.factVersion,
            ':eventId': eventId,
            ':now': at,
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      // The first fact of a dispute on this order, whichever of its events came first.
      opened(Attributes as LedgerRecord);
      return 'applied';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw storeError('write the dispute fact', error);
      if (error.Item === undefined) return 'unknown_order';
      const current = unmarshall(error.Item) as LedgerRecord;
      // This very write, landed with its answer lost and refused when the SDK sent it again.
      if (current.updatedAt === at && current.dispute?.factVersion === dispute.factVersion) {
        opened(current);
        return 'applied';
      }
      if (namespaceOf(current) !== namespace) return 'other_namespace';
      // Still pending: its PaymentIntent is not recorded yet; the fact is delivered again later.
      if (current.paymentId === undefined) throw new PaymentInProgressError();
      return current.paymentId === paymentId ? 'stale' : 'conflict';
    }
  };
}

/**
 * The reconciler's view of the ledger: pending records from the sparse index, and the two moves it
 * may make, each only if the record is still pending with the very attempt it read (a charge
 * retry, a webhook or another reconciler run that came first wins).
 */
export function createPendingLedger(client: DynamoDBClient, tableName: string): PendingLedger {
  const documents = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const key = ledgerTable.partitionKey;

  async function moveIfUnchanged(record: LedgerRecord, fields: Fields, action: string, stateBound: readonly string[] = STATE_BOUND_FIELDS): Promise<boolean> {
    const update = setExpression(fields, stateBound);
    try {
      await documents.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { [key]: record.orderId },
          ...update,
          ConditionExpression: '#status = :pendingStatus AND #attemptAt = :seenAttempt',
          ExpressionAttributeNames: { ...update.ExpressionAttributeNames, '#status': 'status', '#attemptAt': 'attemptAt' },
          ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':pendingStatus': 'pending', ':seenAttempt': record.attemptAt ?? record.createdAt },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw storeError(action, error);
    }
  }

  return {
    /**
     * Put-off records too: the reconciler skips them, not a FilterExpression, which cannot name the
     * index's sort key (attemptAt). The cost is the same, as DynamoDB bills what a filter drops: a
     * run reads the put-off records ahead of those it settles, about 0.5 RCU per 4 KB, in exchange
     * for a sort key that never moves, so no record can slip out of the index's order.
     */
    async *pendingAttemptedBefore(cutoff: string) {
      // Each run starts at another shard, so a run that stops early (out of time) leaves a
      // different part of the backlog for the next, rather than always the same shards unread.
      const first = Math.floor(Math.random() * INDEX_SHARDS);
      for (let i = 0; i < INDEX_SHARDS; i += 1) {
        yield* queryIndex(documents, tableName, pendingIndex, pendingShardKey((first + i) % INDEX_SHARDS), { is: '<', than: cutoff });
      }
    },
    settle: (record, fact, now) => moveIfUnchanged(record, { ...fact, updatedAt: now }, 'settle the pending record'),
    expire: (record, now) => moveIfUnchanged(record, { status: 'expired', updatedAt: now }, 'expire the pending record'),
    // Plain attributes, neither index key removed nor sort key moved: the record keeps its place (attemptAt) in the index.
    checkLater: (record, nextCheckAt) =>
      moveIfUnchanged(record, { nextCheckAt, nextCheckAttemptAt: record.attemptAt ?? record.createdAt }, 'put off the pending record', []),
  };
}

/** The records of an index partition, page by page, those whose sort key passes the condition. */
async function* queryIndex(
  documents: DynamoDBDocumentClient,
  tableName: string,
  index: IndexDefinition,
  partition: string,
  /** One side of the sort key, or both (BETWEEN, which includes both ends). */
  sortKey: { is: '<' | '>='; than: string } | { between: [string, string] },
): AsyncIterable<LedgerRecord> {
  const condition =
    'between' in sortKey
      ? { expression: '#sort BETWEEN :from AND :to', values: { ':from': sortKey.between[0], ':to': sortKey.between[1] } }
      : { expression: `#sort ${sortKey.is} :sort`, values: { ':sort': sortKey.than } };
  let startKey: Record<string, unknown> | undefined;
  do {
    let page: QueryCommandOutput;
    try {
      page = await documents.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: index.indexName,
          KeyConditionExpression: `#partition = :partition AND ${condition.expression}`,
          ExpressionAttributeNames: { '#partition': index.partitionKey, '#sort': index.sortKey },
          ExpressionAttributeValues: { ':partition': partition, ...condition.values },
          ExclusiveStartKey: startKey,
        }),
      );
    } catch (error) {
      throw storeError(`read the ${index.indexName} index`, error);
    }
    for (const item of page.Items ?? []) yield item as LedgerRecord;
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
}

/** The created index's keys of a record, set once when it is created (and by the bench, which writes records directly). */
export function createdIndexKeysOf({ orderId, createdAt }: Pick<LedgerRecord, 'orderId' | 'createdAt'>): Pick<IndexKeys, 'createdDayShard'> {
  return { createdDayShard: createdDayShardKey(createdAt, shardOf(orderId)) };
}

/** BatchGetItem reads at most this many items per request. */
const BATCH_GET_MOST = 100;

/**
 * The records of orders created in [since, until), for the audit: the keys from the created index
 * (keys only), then the records themselves, a hundred at a time. Eventually consistent reads: the
 * audit compares orders settled at least half an hour ago, and a record changed the very moment it
 * is read differs at worst until the next run, as a change made just after the read would.
 */
export function createLedgerWindowReader(client: DynamoDBClient, tableName: string) {
  const documents = DynamoDBDocumentClient.from(client);
  const key = ledgerTable.partitionKey;

  async function* createdKeysBetween(since: string, until: string): AsyncIterable<string> {
    for (let day = new Date(since.slice(0, 10)); day.toISOString() < until; day = new Date(day.getTime() + 24 * 3_600_000)) {
      for (let shard = 0; shard < INDEX_SHARDS; shard += 1) {
        // BETWEEN includes `until`: that one instant belongs to the next slice.
        for await (const { orderId, createdAt } of queryIndex(documents, tableName, createdIndex, createdDayShardKey(day.toISOString(), shard), {
          between: [since, until],
        })) {
          if (createdAt < until) yield orderId;
        }
      }
    }
  }

  async function recordsOf(orderIds: string[]): Promise<LedgerRecord[]> {
    const records: LedgerRecord[] = [];
    let keys: Array<Record<string, unknown>> | undefined = orderIds.map((orderId) => ({ [key]: orderId }));
    for (let attempt = 0; keys !== undefined && keys.length > 0; attempt += 1) {
      // What DynamoDB left unprocessed (throttled) is asked for again, after a growing pause.
      if (attempt > 0) await sleep(Math.min(2_000, 50 * 2 ** attempt));
      let answer: BatchGetCommandOutput;
      try {
        answer = await documents.send(new BatchGetCommand({ RequestItems: { [tableName]: { Keys: keys } } }));
      } catch (error) {
        throw storeError('read the ledger records', error);
      }
      records.push(...((answer.Responses?.[tableName] ?? []) as LedgerRecord[]));
      keys = answer.UnprocessedKeys?.[tableName]?.Keys;
    }
    return records;
  }

  return async function* recordsCreatedBetween(since: Date, until: Date): AsyncIterable<LedgerRecord> {
    let batch: string[] = [];
    for await (const orderId of createdKeysBetween(since.toISOString(), until.toISOString())) {
      batch.push(orderId);
      if (batch.length === BATCH_GET_MOST) {
        yield* await recordsOf(batch);
        batch = [];
      }
    }
    if (batch.length > 0) yield* await recordsOf(batch);
  };
}

/**
 * Gives records written before the ledger had its indexes their index keys, once, after the
 * upgrade: every record its created day (for the audit), and a pending one its pending shard and,
 * as its latest attempt, its last update (for the reconciler). Each write is conditional, so it
 * is safe to run beside live traffic and to run again. A Scan, but a one-off.
 */
export async function backfillIndexKeys(client: DynamoDBClient, tableName: string): Promise<{ scanned: number; dated: number; pendingIndexed: number }> {
  const documents = DynamoDBDocumentClient.from(client);
  const counts = { scanned: 0, dated: 0, pendingIndexed: 0 };
  const setIfAbsent = async (record: LedgerRecord, fields: Record<string, string>, condition: string, values: Record<string, string> = {}) => {
    const update = setExpression(fields, []);
    try {
      await documents.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { [ledgerTable.partitionKey]: record.orderId },
          ...update,
          ConditionExpression: condition,
          ExpressionAttributeNames: { ...update.ExpressionAttributeNames, ...(condition.includes('#status') && { '#status': 'status' }) },
          ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ...values },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw storeError('backfill the index keys', error);
    }
  };
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      new ScanCommand({
        TableName: tableName,
        ExclusiveStartKey: startKey,
        FilterExpression: 'attribute_not_exists(createdDayShard) OR (#status = :pending AND attribute_not_exists(pendingShard))',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':pending': 'pending' },
      }),
    );
    for (const record of (page.Items ?? []) as Array<LedgerRecord & IndexKeys>) {
      counts.scanned += 1;
      const shard = shardOf(record.orderId);
      if (
        record.createdDayShard === undefined &&
        (await setIfAbsent(record, { createdDayShard: createdDayShardKey(record.createdAt, shard) }, 'attribute_not_exists(createdDayShard)'))
      )
        counts.dated += 1;
      if (record.status === 'pending' && record.pendingShard === undefined) {
        const indexed = await setIfAbsent(
          record,
          { pendingShard: pendingShardKey(shard), attemptAt: record.attemptAt ?? record.updatedAt },
          '#status = :pending AND attribute_not_exists(pendingShard)',
          { ':pending': 'pending' },
        );
        if (indexed) counts.pendingIndexed += 1;
      }
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return counts;
}

/**
 * The refunds' view of the ledger. Every change to an order's refunds is one conditional write of
 * all of them and what follows (reserved, refunded, status), made only if the refunds and status
 * are still those the writer read: so two refunds written at once can never both take the same
 * refundable amount.
 */
export function createRefundsLedger(client: DynamoDBClient, tableName: string): RefundsLedger & UnsettledRefunds {
  const documents = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const key = ledgerTable.partitionKey;
  return {
    read: createLedgerReader(client, tableName),
    async *ordersWithRefundsUnsettledBefore(cutoff) {
      // Each run starts at another shard, as the pending sweep does: a run out of time leaves other shards for the next.
      const first = Math.floor(Math.random() * INDEX_SHARDS);
      for (let i = 0; i < INDEX_SHARDS; i += 1) {
        const shard = (first + i) % INDEX_SHARDS;
        for await (const { orderId } of queryIndex(documents, tableName, unsettledRefundsIndex, unsettledRefundsShardKey(shard), { is: '<', than: cutoff })) {
          yield orderId;
        }
      }
    },
    async writeRefunds(seen, { unsettledSince, ...state }: RefundState, now) {
      // The unsettled-refunds index keys, only while a refund is unsettled (a sparse index).
      const indexKeys =
        unsettledSince === undefined ? {} : { unsettledRefundsShard: unsettledRefundsShardOf(seen.orderId), unsettledRefundsSince: unsettledSince };
      const update = setExpression(
        { ...state, ...indexKeys, refundsVersion: (seen.refundsVersion ?? 0) + 1, updatedAt: now } as Fields,
        UNSETTLED_REFUNDS_KEYS,
      );
      const sameRefunds = seen.refundsVersion === undefined ? 'attribute_not_exists(#refundsVersion)' : '#refundsVersion = :seenRefundsVersion';
      try {
        const { Attributes } = await documents.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { [key]: seen.orderId },
            ...update,
            ConditionExpression: `attribute_exists(#key) AND #status = :seenStatus AND ${sameRefunds}`,
            ExpressionAttributeNames: { ...update.ExpressionAttributeNames, '#key': key },
            ExpressionAttributeValues: {
              ...update.ExpressionAttributeValues,
              ':seenStatus': seen.status,
              ...(seen.refundsVersion !== undefined && { ':seenRefundsVersion': seen.refundsVersion }),
            },
            ReturnValues: 'ALL_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return { written: true, record: Attributes as LedgerRecord };
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return { written: false, current: error.Item && (unmarshall(error.Item) as LedgerRecord) };
        throw storeError('write the refunds', error);
      }
    },
  };
}

/** Reads one order's ledger record (strongly consistent: a client polling after a 202 sees the latest). */
export function createLedgerReader(client: DynamoDBClient, tableName: string) {
  const documents = DynamoDBDocumentClient.from(client);
  return async (orderId: string): Promise<LedgerRecord | undefined> => {
    try {
      const { Item } = await documents.send(new GetCommand({ TableName: tableName, Key: { [ledgerTable.partitionKey]: orderId }, ConsistentRead: true }));
      return Item as LedgerRecord | undefined;
    } catch (error) {
      throw storeError('read the ledger record', error);
    }
  };
}

export type LedgerReader = ReturnType<typeof createLedgerReader>;

type Fields = Record<string, string | number | object | undefined>;

/**
 * Fields that hold only in one state: a later fact without them removes them (a decline code once
 * the order is charged; the pending index key and the attempt's id once the record is no longer pending).
 */
const STATE_BOUND_FIELDS = ['declineCode', 'pendingShard', 'attemptId'] as const;

/**
 * `SET #a = :a, …` for the fields that have a value (DynamoDB cannot SET undefined), and
 * `REMOVE` for the state-bound fields the new fact lacks. Each name is `#name`, each value `:name`.
 */
function setExpression(fields: Fields, stateBound: readonly string[] = STATE_BOUND_FIELDS) {
  const defined = Object.entries(fields).filter(([, value]) => value !== undefined);
  const removed = stateBound.filter((name) => fields[name] === undefined);
  const set = `SET ${defined.map(([name]) => `#${name} = :${name}`).join(', ')}`;
  const remove = removed.length > 0 ? ` REMOVE ${removed.map((name) => `#${name}`).join(', ')}` : '';
  return {
    UpdateExpression: `${set}${remove}`,
    ExpressionAttributeNames: Object.fromEntries([...defined.map(([name]) => name), ...removed].map((name) => [`#${name}`, name])),
    ExpressionAttributeValues: Object.fromEntries(defined.map(([name, value]) => [`:${name}`, value])),
  };
}

function storeError(action: string, cause: unknown): StoreUnavailableError {
  return new StoreUnavailableError(`could not ${action}`, { cause });
}
