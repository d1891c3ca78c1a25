// Vite configuration: builds the dashboard into the server package and proxies a running server in dev.

import { defineConfig, defaultClientConditions } from 'vite';
import react from '@vitejs/plugin-react';

const target = process.env['SWITCHYARD_URL'] ?? 'http://localhost:3003';
const proxied = (ws = false) => ({ target, changeOrigin: true, ws });

export default defineConfig({
  plugins: [react()],
  // Workspace packages resolve to their TypeScript sources, so the dashboard needs no prior build.
  resolve: { conditions: ['source', ...defaultClientConditions] },
  // Assets are served from wherever the server mounts the dashboard.
  base: './',
  build: {
    outDir: '../server/public',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1024,
    rollupOptions: {
      // zod ships esbuild-style /* @__PURE__ */ comments Rollup cannot place; harmless and not ours.
      onwarn(warning, warn) {
        if (warning.code === 'INVALID_ANNOTATION' && warning.id?.includes('node_modules') === true) return;
        warn(warning);
      },
    },
  },
  server: {
    proxy: {
      '/ws': proxied(true),
      '/status': proxied(),
      '/events': proxied(),
      '/publish': proxied(),
      '/broadcast': proxied(),
      '/metrics': proxied(),
      '/channels': proxied(),
    },
  },
});
