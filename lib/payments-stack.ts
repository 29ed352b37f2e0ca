import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { IN_PLACE_OF_STACK, PaymentsService, type PaymentsServiceProps } from './payments-service';

export interface PaymentsStackProps extends StackProps, PaymentsServiceProps {}

/**
 * The template's own stack: the service and nothing else. The service sits under the id `Default`,
 * so its resources keep the logical IDs they had when this stack built them itself (a moved logical
 * ID is a new, empty table, and an orphaned ledger).
 */
export class PaymentsStack extends Stack {
  readonly service: PaymentsService;

  constructor(scope: Construct, id: string, props: PaymentsStackProps = {}) {
    super(scope, id, props);
    this.service = new PaymentsService(this, IN_PLACE_OF_STACK, props);
  }
}
