// Vite configuration: builds the dashboard into the server package and proxies a running server in dev.

import { createRequire } from 'node:module';
import { defineConfig, defaultClientConditions, version as viteVersion, type PluginOption } from 'vite';
import react from '@vitejs/plugin-react';

const target = process.env['SWITCHYARD_URL'] ?? 'http://localhost:3003';
const proxied = (ws = false) => ({ target, changeOrigin: true, ws });

// @vitejs/plugin-react chooses its code path by the `vite` it imports itself. npm may hoist it beside
// another major of Vite (vitest brings one), and the other major's path breaks this Vite's dev server.
// Then esbuild compiles the JSX alone: the same output, with full reloads instead of Fast Refresh.
const require = createRequire(import.meta.url);
const pluginVite = createRequire(require.resolve('@vitejs/plugin-react'))('vite/package.json') as { version: string };
const sameVite = pluginVite.version.split('.')[0] === viteVersion.split('.')[0];
const plugins: PluginOption[] = sameVite ? [react() as PluginOption] : [];

export default defineConfig({
  plugins,
  esbuild: { jsx: 'automatic' },
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
