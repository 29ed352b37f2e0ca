import { CfnOutput, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface StripeSecretProps {
  /** Name of an existing secret holding the Stripe secret key; when absent the stack creates one. */
  existingSecretName?: string;
  removalPolicy: RemovalPolicy;
}

/**
 * The Stripe secret API key, kept in Secrets Manager and read at runtime (never an environment
 * variable). A created secret holds a random placeholder until the key is put into it (README).
 */
export class StripeSecret extends Construct {
  readonly secret: ISecret;

  constructor(scope: Construct, id: string, { existingSecretName, removalPolicy }: StripeSecretProps) {
    super(scope, id);
    this.secret = existingSecretName === undefined ? this.createSecret(removalPolicy) : Secret.fromSecretNameV2(this, 'Existing', existingSecretName);
    new CfnOutput(this, 'StripeSecretName', {
      value: this.secret.secretName,
      description: 'Secrets Manager secret to put the Stripe secret key into',
    });
  }

  private createSecret(removalPolicy: RemovalPolicy): ISecret {
    const secret = new Secret(this, 'Secret', {
      description: 'Stripe secret API key (sk_test_... or sk_live_...) used by the payments functions',
      generateSecretString: { passwordLength: 32, excludePunctuation: true },
      removalPolicy,
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'Stripe API keys are rolled in the Stripe dashboard, which Secrets Manager rotation cannot drive; the new key is put into this secret and picked up within the cache time.',
    });
    return secret;
  }
}
