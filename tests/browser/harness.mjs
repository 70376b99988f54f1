// Shared helpers for the browser tests: start the built `latency` binary and launch
// Debian's headless Chromium through playwright-core (no browser download).
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The binary under test: $LATENCY_BIN, or the debug build. */
export const latencyBin = process.env.LATENCY_BIN ?? path.join(repoRoot, "target/debug/latency");

/**
 * Starts `latency serve --listen 127.0.0.1:0 ...args` and resolves with
 * { baseUrl, stop } once it prints its address (rejects after 20 s).
 */
export function startServer(args = []) {
  const child = spawn(latencyBin, ["serve", "--listen", "127.0.0.1:0", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${latencyBin} did not print its address within 20 s`));
    }, 20_000);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${latencyBin}: ${err.message} (run: cargo build)`));
    });
    createInterface({ input: child.stdout }).once("line", (line) => {
      clearTimeout(timer);
      const match = /^listening on (http:\/\/\S+)$/.exec(line);
      if (!match) {
        child.kill("SIGKILL");
        reject(new Error(`unexpected first line from latency serve: ${line}`));
        return;
      }
      const stop = () =>
        new Promise((done) => {
          child.once("exit", done);
          child.kill("SIGTERM");
        });
      resolve({ baseUrl: match[1], stop });
    });
  });
}

/** Launches headless Chromium with the flags this closed-network machine needs. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
