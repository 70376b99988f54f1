// The HTML report of `latency report` in a real browser: self-contained, the table, a
// CDF line and a histogram per run, text large enough to read, nothing off-screen.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { latencyBin, launchBrowser, repoRoot } from "./harness.mjs";

const fixtures = path.join(repoRoot, "crates/bench/tests/fixtures");

test("latency report renders a readable, self-contained HTML page", async () => {
  const reports = readdirSync(fixtures)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => path.join(fixtures, f));
  assert.ok(reports.length >= 2, `fixtures in ${fixtures}`);
  const dir = mkdtempSync(path.join(tmpdir(), "latency-report-"));
  const html = path.join(dir, "report.html");
  const made = spawnSync(latencyBin, ["report", ...reports, "--html", html], { encoding: "utf8" });
  if (made.error) throw new Error(`cannot run ${latencyBin}: ${made.error.message} (run: cargo build)`);
  assert.equal(made.status, 0, `latency report failed: ${made.stderr}`);

  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const fileUrl = pathToFileURL(html).href;
    const outside = [];
    await page.route("**/*", (route) => {
      const url = route.request().url();
      if (url === fileUrl) return route.continue();
      outside.push(url);
      return route.abort();
    });
    const problems = [];
    page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
    page.on("pageerror", (e) => problems.push(e.message));
    await page.goto(fileUrl);

    assert.deepEqual(outside, [], "the page loads nothing from outside itself");
    assert.deepEqual(problems, []);
    assert.equal(await page.title(), "Latency comparison");

    // The table: the original's first columns, one row per Report.
    const headers = await page.locator("thead th").allTextContents();
    assert.deepEqual(headers.slice(0, 4), [
      "Architecture",
      "Average latency (ms)",
      "Monthly cost ($)",
      "Cost per million calls ($)",
    ]);
    for (const h of ["p50 (ms)", "p99 (ms)", "Throughput (req/s)", "Counter check"]) {
      assert.ok(headers.includes(h), `column ${h}`);
    }
    assert.equal(await page.locator("tbody tr").count(), reports.length);

    // One CDF line per run, each with many points, and one histogram per run with bars.
    const lines = page.locator("svg.cdf polyline.series");
    assert.equal(await lines.count(), reports.length);
    for (const points of await lines.evaluateAll((ls) => ls.map((l) => l.points.length))) {
      assert.ok(points >= 10, `a CDF line has ${points} points`);
    }
    const histograms = page.locator("svg.histogram");
    assert.equal(await histograms.count(), reports.length);
    const bars = await histograms.evaluateAll((hs) => hs.map((h) => h.querySelectorAll("rect title").length));
    assert.ok(bars.every((n) => n > 0), `bars per histogram: ${bars}`);

    // Readable: charts are drawn at a usable size, no text is tiny, nothing overflows.
    const cdfBox = await page.locator("svg.cdf").boundingBox();
    assert.ok(cdfBox && cdfBox.width >= 600 && cdfBox.height >= 250, `CDF box ${JSON.stringify(cdfBox)}`);
    const smallest = await page.evaluate(() => {
      let min = Infinity;
      for (const el of document.querySelectorAll("body *")) {
        if (!el.textContent.trim() || el.children.length) continue;
        const rect = el.getBoundingClientRect();
        if (rect.width === 0) continue;
        const size = el.closest("svg")
          ? rect.height // SVG text scales with its viewBox; use the rendered height
          : parseFloat(getComputedStyle(el).fontSize);
        min = Math.min(min, size);
      }
      return min;
    });
    assert.ok(smallest >= 9, `smallest rendered text is ${smallest}px`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than the window`);

    const shots = path.join(repoRoot, "target", "browser");
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, "report.png"), fullPage: true });
  } finally {
    await browser.close();
  }
});
