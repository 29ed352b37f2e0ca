import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { idempotencyTable, ledgerTable, retiredCreatedIndex, type TableDefinition } from '../../lambdas/contract/tables';

export interface PaymentTablesProps {
  removalPolicy: RemovalPolicy;
  /**
   * How many of the ledger's indexes to deploy (all by default). CloudFormation adds at most one
   * global secondary index per update, so a ledger deployed without them is upgraded in steps.
   */
  ledgerIndexes?: number;
  /**
   * Keep the retired `CreatedByDay` index (all attributes) beside its keys-only successor: the first
   * of the two deploys that replace it on a ledger that has it, as CloudFormation makes or drops at
   * most one index per update.
   */
  keepCreatedByDay?: boolean;
}

/** The key table (Powertools idempotency records, expired by TTL) and the permanent payments ledger. */
export class PaymentTables extends Construct {
  readonly idempotency: Table;
  readonly ledger: Table;

  constructor(scope: Construct, id: string, { removalPolicy, ledgerIndexes, keepCreatedByDay }: PaymentTablesProps) {
    super(scope, id);
    this.idempotency = this.tableFrom(idempotencyTable, removalPolicy);
    const indexes = [...(ledgerTable.indexes ?? []).slice(0, ledgerIndexes), ...(keepCreatedByDay ? [retiredCreatedIndex] : [])];
    this.ledger = this.tableFrom({ ...ledgerTable, indexes }, removalPolicy);
  }

  /** Key schema, TTL and indexes come from the definitions the local runtime creates its tables from. */
  private tableFrom(definition: TableDefinition, removalPolicy: RemovalPolicy): Table {
    const table = new Table(this, definition.logicalName, {
      partitionKey: { name: definition.partitionKey, type: AttributeType.STRING },
      timeToLiveAttribute: definition.timeToLiveAttribute,
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    });
    for (const index of definition.indexes ?? []) {
      table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        projectionType: index.projection === 'KEYS_ONLY' ? ProjectionType.KEYS_ONLY : ProjectionType.ALL,
      });
    }
    return table;
  }
}
