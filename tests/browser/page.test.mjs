// The page in a real browser: three clicks show counts 1, 2, 3, a latency, the running
// statistics and the histogram.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { launchBrowser, repoRoot, startServer } from "./harness.mjs";

test("clicking the button three times counts 1, 2, 3 and shows latency", async () => {
  const server = await startServer(["--store", "memory://"]);
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(`${server.baseUrl}/`);
    const count = page.locator("#count");
    for (const expected of ["1", "2", "3"]) {
      await page.click("#hit");
      await page.waitForFunction(
        (want) => document.getElementById("count").textContent === want,
        expected,
        { timeout: 10_000 },
      );
      assert.equal(await count.textContent(), expected);
    }
    const latency = await page.locator("#latency").textContent();
    assert.match(latency, /^\d+(\.\d+)? ms$/, `latency shown: ${latency}`);
    assert.equal(await page.locator("#stat-count").textContent(), "3");
    for (const id of ["stat-min", "stat-mean", "stat-p50", "stat-p99"]) {
      assert.match(await page.locator(`#${id}`).textContent(), / ms$/, id);
    }
    const bars = await page.locator("#histogram rect.bar").count();
    assert.ok(bars > 0, "histogram has bars");
    assert.equal(await page.locator("#error").textContent(), "");

    const shots = path.join(repoRoot, "target", "browser");
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, "page.png"), fullPage: true });
  } finally {
    await browser.close();
    await server.stop();
  }
});

test("a failing store shows the error message on the page", async () => {
  // A counter file that is corrupt at start-up is refused, so corrupt it after start.
  const { mkdtempSync, writeFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(path.join(tmpdir(), "latency-page-"));
  const file = path.join(dir, "hits");
  const server = await startServer(["--store", `file://${file}`]);
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(`${server.baseUrl}/`);
    writeFileSync(file, "not a number");
    await page.click("#hit");
    await page.waitForFunction(() => document.getElementById("error").textContent !== "", null, {
      timeout: 10_000,
    });
    assert.match(await page.locator("#error").textContent(), /HTTP 503: the counter store is unavailable/);
  } finally {
    await browser.close();
    await server.stop();
  }
});
