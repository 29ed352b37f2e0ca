import { DEFAULT_STRIPE_REQUESTS_PER_SECOND } from '../../lambdas/contract/stripe-budget';
import { settingsFromEnvironment } from '../../local/runtime';

describe('npm start reads the Stripe budget as the functions do', () => {
  it('from STRIPE_REQUESTS_PER_SECOND, 25 when unset', () => {
    expect(settingsFromEnvironment({}).stripeRequestsPerSecond).toBe(DEFAULT_STRIPE_REQUESTS_PER_SECOND);
    expect(settingsFromEnvironment({ STRIPE_REQUESTS_PER_SECOND: '10' }).stripeRequestsPerSecond).toBe(10);
  });

  it('refuses a value that is not a positive number, naming the setting', () => {
    expect(() => settingsFromEnvironment({ STRIPE_REQUESTS_PER_SECOND: 'fast' })).toThrow(/stripeRequestsPerSecond/);
  });
});
