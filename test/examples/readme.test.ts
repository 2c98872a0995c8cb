/** The README's examples are the files that run as tests: they cannot drift apart. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

it.each(['transition-sequence', 'connector', 'hooks'])('shows the %s example exactly as it runs', (name) => {
  const example = readFileSync(new URL(`./${name}.test.ts`, import.meta.url), 'utf8');
  expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
});

it('shows the webhook signature check exactly as it runs', () => {
  const example = readFileSync(new URL('./verify-webhook.ts', import.meta.url), 'utf8');
  expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
});
