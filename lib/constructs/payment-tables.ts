import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { idempotencyTable, ledgerTable, type TableDefinition } from '../../lambdas/contract/tables';

export interface PaymentTablesProps {
  removalPolicy: RemovalPolicy;
}

/** The key table (Powertools idempotency records, expired by TTL) and the permanent payments ledger. */
export class PaymentTables extends Construct {
  readonly idempotency: Table;
  readonly ledger: Table;

  constructor(scope: Construct, id: string, { removalPolicy }: PaymentTablesProps) {
    super(scope, id);
    this.idempotency = this.tableFrom(idempotencyTable, removalPolicy);
    this.ledger = this.tableFrom(ledgerTable, removalPolicy);
  }

  /** Key schema and TTL come from the definitions the local runtime creates its tables from. */
  private tableFrom(definition: TableDefinition, removalPolicy: RemovalPolicy): Table {
    return new Table(this, definition.logicalName, {
      partitionKey: { name: definition.partitionKey, type: AttributeType.STRING },
      timeToLiveAttribute: definition.timeToLiveAttribute,
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    });
  }
}
