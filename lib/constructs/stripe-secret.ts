import { type RemovalPolicy, Validations } from 'aws-cdk-lib';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { stackOutput } from './stack-output';

export interface StripeSecretProps {
  /** What the secret holds, for its description and its output. */
  holds: string;
  /** Name of an existing secret to use; when absent the stack creates one. */
  existingSecretName?: string;
  removalPolicy: RemovalPolicy;
}

/**
 * A Stripe credential (the secret API key, or the webhook signing secret), kept in Secrets Manager
 * and read at runtime (never an environment variable). A created secret holds a random
 * placeholder until the real value is put into it (docs/operations.md, deploy).
 */
export class StripeSecret extends Construct {
  readonly secret: ISecret;

  constructor(scope: Construct, id: string, { holds, existingSecretName, removalPolicy }: StripeSecretProps) {
    super(scope, id);
    this.secret = existingSecretName === undefined ? this.createSecret(holds, removalPolicy) : Secret.fromSecretNameV2(this, 'Existing', existingSecretName);
    stackOutput(this, `${id}Name`, { value: this.secret.secretName, description: `Secrets Manager secret to put the ${holds} into` });
  }

  private createSecret(holds: string, removalPolicy: RemovalPolicy): ISecret {
    const secret = new Secret(this, 'Secret', {
      description: `The ${holds}, read by the payments functions`,
      generateSecretString: { passwordLength: 32, excludePunctuation: true },
      removalPolicy,
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Stripe credentials are rolled in the Stripe dashboard, which Secrets Manager rotation cannot drive; the new value is put into this secret and picked up within the cache time.',
    });
    return secret;
  }
}
