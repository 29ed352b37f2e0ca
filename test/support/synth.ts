import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../lib/app';

/** Builds the app as `cdk synth` does, without running esbuild (about 0.5 s saved per synth). */
export function synthesize(context: Record<string, string> = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
  const stack = buildApp(app);
  return { app, stack, template: Template.fromStack(stack) };
}
