import { defineConfig } from 'vite';

const api = process.env.FACEGATE_API ?? 'https://127.0.0.1:8444';

// The console is served by facegated itself: GET / answers dist/index.html and
// GET /assets/{name} the files of dist/assets (one path segment, no subfolders), under a strict
// Content-Security-Policy (no inline scripts or styles). So: everything in assets/ with hashed
// names, nothing inlined, no module-preload polyfill (it would be an inline script), no maps.
export default defineConfig({
  base: '/',
  publicDir: false,
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    sourcemap: false,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    target: 'es2020',
    reportCompressedSize: true,
    rollupOptions: {
      output: {
        entryFileNames: 'assets/[name]-[hash].js',
        chunkFileNames: 'assets/[name]-[hash].js',
        assetFileNames: 'assets/[name]-[hash][extname]',
        // One script: no dynamic imports, so no preload helper either.
        inlineDynamicImports: true,
      },
    },
  },
  // `npm run dev`: the API of a running facegated (./scripts/run's by default).
  server: {
    proxy: {
      '/api': { target: api, changeOrigin: false, secure: false },
      '/readyz': { target: api, secure: false },
      '/metrics': { target: api, secure: false },
    },
  },
});
