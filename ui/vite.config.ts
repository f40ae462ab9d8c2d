import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// The built app is served by `runlab ui` from the Python package's static directory.
export default defineConfig({
  plugins: [preact()],
  base: "/",
  build: {
    outDir: "../src/runlab/server/static",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
  },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:8765",
    },
  },
});
