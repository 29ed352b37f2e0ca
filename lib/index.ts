/** What a host CDK app imports (package.json `exports`): the service construct, and the template's own stack around it. */
export { IN_PLACE_OF_STACK, PaymentsService, type PaymentsServiceProps } from './payments-service';
export { PaymentsStack, type PaymentsStackProps } from './payments-stack';
