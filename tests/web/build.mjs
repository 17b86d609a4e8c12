// Bundle the test chat page (src/) into dist/: one static index.html + app.js, no dev server.
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const HERE = dirname(fileURLToPath(import.meta.url));
export const DIST = join(HERE, "dist");

export async function build() {
  await mkdir(DIST, { recursive: true });
  await esbuild.build({
    entryPoints: [join(HERE, "src", "app.jsx")],
    outfile: join(DIST, "app.js"),
    bundle: true,
    platform: "browser",
    format: "iife",
    target: "es2022",
    jsx: "automatic",
    define: { "process.env.NODE_ENV": '"production"' },
    sourcemap: "linked",
    logLevel: "warning",
  });
  await copyFile(join(HERE, "src", "index.html"), join(DIST, "index.html"));
  return DIST;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await build();
  console.log(`built ${DIST}`);
}
