// The web client: index.html + src/ → dist/, served by chat-engine at / (--web-dir).
// The client library is compiled from its TypeScript sources (../clients/js/src), so no separate
// build of clients/js is needed. `base: "./"` keeps asset URLs relative, so the page also works
// behind a reverse proxy under a path prefix.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  resolve: {
    alias: {
      "@chat-engine/client": fileURLToPath(new URL("../clients/js/src/index.ts", import.meta.url)),
    },
  },
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true, target: "es2022" },
  server: { fs: { allow: [".."] } },
});
