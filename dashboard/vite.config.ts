/**
 * The dashboard's build: Preact through Vite, from this folder into `dist/dashboard`, where
 * the gateway serves it under `/dashboard/` (src/dashboard/). Run by `npm run build`.
 */
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/dashboard/',
  plugins: [preact({ prerender: { enabled: false } })],
  build: {
    outDir: '../dist/dashboard',
    emptyOutDir: true,
    // The strict CSP allows scripts from 'self' only: no inline polyfill.
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
    reportCompressedSize: false,
  },
});
