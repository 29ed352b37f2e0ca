import { createLedgerReader } from '../adapters/dynamodb-ledger';
import { lambdaDynamoDbClient, requiredEnv } from '../adapters/environment';
import { withTracing } from '../adapters/tracing';
import { ENV } from '../contract/environment';
import { createGetPaymentHandler } from '../handlers/get-payment';

/** GET /payments/{orderId} as deployed, built at init: a ledger read, never Stripe. */
export const handler = withTracing(createGetPaymentHandler(createLedgerReader(lambdaDynamoDbClient(), requiredEnv(ENV.ledgerTableName))));
