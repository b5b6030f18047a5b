/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// Where `fog node` serves its API by default (FOG_NODE_URL overrides it); the dev and
// preview servers forward to it so the dashboard works against a running node without CORS.
const nodeApi = process.env.FOG_NODE_URL ?? "http://127.0.0.1:7420";
const proxy = {
  "/api": { target: nodeApi, ws: true },
  "/metrics": { target: nodeApi },
};

export default defineConfig({
  base: "/",
  plugins: [svelte()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
  },
  server: { proxy },
  preview: { proxy },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
