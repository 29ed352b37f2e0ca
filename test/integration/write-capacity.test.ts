import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createChargeService } from '../../lambdas/adapters/charge-service';
import { DESCRIPTION_MAX_CHARACTERS } from '../../lambdas/contract/payment-request';
import type { LedgerRecord } from '../../lambdas/core/charge-order';
import { createChargePaymentHandler } from '../../lambdas/handlers/charge-payment';
import { localDynamoDbClient } from '../../local/dynamodb-local';
import { recordConsumedWrites } from '../support/consumed-capacity';
import { type LocalParts, ledgerRecord, post, serviceOptions, silentLogger, startLocalParts } from '../support/local-parts';

let parts: LocalParts;
beforeAll(async () => {
  parts = await startLocalParts();
});
afterAll(() => parts?.stop());

/** As long as a default namespace in AWS gets: `<stack name>-<account>-<region>`. */
const AWS_NAMESPACE = 'ExactlyOncePayments-123456789012-ap-southeast-2';

describe('write capacity', () => {
  it('keeps a charged order within 1 KB: every ledger write of the largest order costs one unit in the table and in each index', async () => {
    const client = localDynamoDbClient(parts.dynamoDbLocal.endpoint);
    const writes = recordConsumedWrites(client);
    const charge = createChargePaymentHandler(createChargeService(serviceOptions(parts, client, AWS_NAMESPACE), 'api'), silentLogger);
    // As large as the contract lets an order be with an orderId of 64 characters: the longest description, in 4-byte characters.
    const answer = await post(charge, {
      orderId: `o-${'x'.repeat(62)}`,
      amount: 99_999_999,
      currency: 'eur',
      paymentMethod: 'pm_card_visa',
      customerId: `cus_${'A'.repeat(14)}`,
      description: '😀'.repeat(DESCRIPTION_MAX_CHARACTERS),
      receiptEmail: `${'j'.repeat(40)}@example.com`,
    });
    expect(answer.statusCode).toBe(201);

    // What may still come to the charged item: a webhook's event id, and the reconciler's put-off of its pending attempt.
    const orderId = `o-${'x'.repeat(62)}`;
    const { attemptAt } = (await ledgerRecord(parts, orderId)) as LedgerRecord;
    await DynamoDBDocumentClient.from(client).send(
      new UpdateCommand({
        TableName: parts.tables.ledgerTableName,
        Key: { orderId },
        UpdateExpression: 'SET lastEventId = :eventId, nextCheckAt = :at, nextCheckAttemptAt = :attemptAt',
        ExpressionAttributeValues: { ':eventId': `evt_${'A'.repeat(24)}`, ':at': new Date().toISOString(), ':attemptAt': attemptAt },
      }),
    );

    const ledgerWrites = writes.filter((write) => write.table === parts.tables.ledgerTableName);
    expect(ledgerWrites.map(({ command }) => command)).toEqual(['PutItemCommand', 'UpdateItemCommand', 'UpdateItemCommand']);
    for (const write of ledgerWrites) {
      expect(write.tableUnits).toBe(1);
      for (const units of Object.values(write.indexUnits)) expect(units).toBe(1);
    }
    client.destroy();
  });
});
