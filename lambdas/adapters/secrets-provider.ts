import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SecretsManagerClient, type SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { traced } from './tracing';

/** Powertools' secrets provider on a traced client: its own module, loaded by a function's first secret read (environment.ts). */
export function createSecretsProvider(settings: SecretsManagerClientConfig): SecretsProvider {
  return new SecretsProvider({ awsSdkV3Client: traced(new SecretsManagerClient(settings)) });
}
