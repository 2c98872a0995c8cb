import { fileURLToPath } from 'node:url';
import solid from 'vite-plugin-solid';
import { defineConfig } from 'vitest/config';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig(({ mode }) => ({
  // The monitor UI is built from ui/ into dist/ui, which the hub serves at /.
  root: mode === 'test' ? here('.') : here('./ui'),
  plugins: mode === 'test' ? [] : [solid()],
  build: {
    outDir: here('./dist/ui'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 1_000,
  },
  server: {
    // `npm run dev:ui`: the UI with hot reload, talking to a hub on :3000.
    proxy: {
      // Without changeOrigin (which a plain string target turns on) the hub sees the page's own
      // Host, so it takes the UI on :5173 for its own page (see src/hub/origins.ts).
      '/api': { target: 'http://127.0.0.1:3000' },
      '/socket.io': { target: 'http://127.0.0.1:3000', ws: true },
    },
  },
  resolve: {
    // Tests import the package the way users do; these point the names at the sources.
    alias: [
      { find: /^statehub\/testing$/, replacement: here('./src/testing/index.ts') },
      { find: /^statehub\/worker$/, replacement: here('./src/worker/index.ts') },
      { find: /^statehub\/machines$/, replacement: here('./machines/index.ts') },
      { find: /^statehub$/, replacement: here('./src/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
}));
