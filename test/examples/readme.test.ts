/** The README's examples are the files that run as tests: they cannot drift apart. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { connectorConfigSchema } from '../../src/worker/connector-spec.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

it.each(['transition-sequence.test.ts', 'connector.test.ts', 'hooks.test.ts', 'verify-webhook.ts'])('shows %s exactly as it runs', (file) => {
  const example = readFileSync(new URL(`./${file}`, import.meta.url), 'utf8');
  expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
});

it('shows connector config files the worker takes', () => {
  const examples = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((match) => JSON.parse(match[1]!) as Record<string, unknown>);
  const configs = examples.filter((example) => ['http', 'comfyui', 'a1111', 'openai', 'ollama'].some((type) => type in example));
  expect(configs.length).toBeGreaterThanOrEqual(2);
  for (const config of configs) expect(connectorConfigSchema.safeParse(config).error).toBeUndefined();
});
