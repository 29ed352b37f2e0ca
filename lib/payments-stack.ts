import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ENV } from '../lambdas/contract/environment';
import { CHARGE_FUNCTION_TIMEOUT_SECONDS } from '../lambdas/contract/settings';
import { PaymentTables } from './constructs/payment-tables';
import { PaymentsApi } from './constructs/payments-api';
import { PaymentsFunction } from './constructs/payments-function';
import { StripeSecret } from './constructs/stripe-secret';

export interface PaymentsStackProps extends StackProps {
  /** Sandbox stacks destroy their data with the stack; any other keeps it (and protects the tables). */
  sandbox: boolean;
  /** Use this existing Secrets Manager secret for the Stripe key instead of creating one. */
  stripeSecretName?: string;
  logLevel?: string;
}

export class PaymentsStack extends Stack {
  readonly tables: PaymentTables;
  readonly chargePayment: PaymentsFunction;
  readonly api: PaymentsApi;

  constructor(scope: Construct, id: string, props: PaymentsStackProps) {
    super(scope, id, props);
    const removalPolicy = props.sandbox ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    this.tables = new PaymentTables(this, 'Tables', { removalPolicy });
    const { secret } = new StripeSecret(this, 'StripeSecret', { existingSecretName: props.stripeSecretName, removalPolicy });

    this.chargePayment = new PaymentsFunction(this, 'ChargePayment', {
      entry: require.resolve('../lambdas/handlers/charge-payment.ts'),
      description: 'POST /payments: charges an order exactly once',
      timeout: Duration.seconds(CHARGE_FUNCTION_TIMEOUT_SECONDS),
      stripeSecret: secret,
      logLevel: props.logLevel ?? 'INFO',
      removalPolicy,
      tables: [
        // Powertools idempotency: claim (Put), read (Get), complete (Update), release on error (Delete).
        {
          table: this.tables.idempotency,
          environmentVariable: ENV.idempotencyTableName,
          actions: ['PutItem', 'GetItem', 'UpdateItem', 'DeleteItem'],
        },
        // The ledger is only ever created (conditional Put) and moved forward (conditional Update).
        { table: this.tables.ledger, environmentVariable: ENV.ledgerTableName, actions: ['PutItem', 'UpdateItem'] },
      ],
    });

    this.api = new PaymentsApi(this, 'Api', {
      functions: { chargePayment: this.chargePayment.function },
      removalPolicy,
      throttle: { rateLimit: 50, burstLimit: 100 },
    });
  }
}
