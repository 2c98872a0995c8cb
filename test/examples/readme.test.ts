/** The README's examples are the files that run as tests: they cannot drift apart. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

it('shows the transition-sequence example exactly as it runs', () => {
  const example = readFileSync(new URL('./transition-sequence.test.ts', import.meta.url), 'utf8');
  expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
});

it('shows the connector example exactly as it runs', () => {
  const example = readFileSync(new URL('./connector.test.ts', import.meta.url), 'utf8');
  expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
});
