import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// Served by the facade at /sandbox (assets under /sandbox/assets); `npm run dev` proxies the API.
const api = process.env.OPTBOX_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  base: "/sandbox/",
  plugins: [react()],
  build: { outDir: "dist", chunkSizeWarningLimit: 1200 },
  server: { proxy: { "/api": api, "/socket.io": { target: api, ws: true } } },
  test: { environment: "node", include: ["src/**/*.test.{ts,tsx}"] },
});
