// The HTML report of `latency report` in a real browser, at 1280 and 1920 px: every
// section inside <main>, the verdict then the summary first, no SVG label sticking out of its chart, the
// percentile spectrum with one colour per architecture and dashed concurrent runs, a
// legend that shows the dashes, nothing loaded from outside, nothing wider than the window.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { latencyBin, launchBrowser, repoRoot } from "./harness.mjs";
import { WIDTHS, clippedLabels, openPage, renderReport } from "./report-page.mjs";

const fixtures = path.join(repoRoot, "crates/bench/tests/fixtures");
const read = (name) => JSON.parse(readFileSync(path.join(fixtures, name), "utf8"));

/**
 * The lab's shape from the committed (real) Reports: two architectures, each a
 * sequential and a concurrent run, with the cost figures the lab attaches. Labels are
 * long and one holds markup, to catch clipping and escaping.
 */
function labShaped(dir) {
  const rows = [];
  const arch = [
    ["server-vm.json", "Server + VM (EC2) <memory://>", { monthly_usd: 10.57, per_million_calls_usd: null }],
    ["fargate-efs.json", "Fargate + EFS, read-modify-write on a shared file", { monthly_usd: null, per_million_calls_usd: 2.4 }],
  ];
  for (const [file, label, cost] of arch) {
    const seq = read(file);
    seq.target.label = label;
    seq.plan.connections = 1;
    seq.cost = { ...cost, note: "test prices" };
    const conc = read(file);
    conc.target.label = `${label}, 8 concurrent`;
    conc.plan.connections = 8;
    conc.cost = { ...cost, note: "test prices" };
    rows.push(seq, conc);
  }
  return rows.map((report, i) => {
    const f = path.join(dir, `${i}.json`);
    writeFileSync(f, JSON.stringify(report));
    return f;
  });
}

test("report.html reads at 1280 and 1920 px: sections in <main>, no clipped label", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "latency-report-"));
  const files = labShaped(dir);
  const html = path.join(dir, "report.html");
  renderReport(files, html, ["--title", "Lab <comparison>"]);

  const browser = await launchBrowser();
  try {
    for (const width of WIDTHS) {
      const { page, outside, problems } = await openPage(browser, html, width);
      assert.deepEqual(outside, [], "the page loads nothing from outside itself");
      assert.deepEqual(problems, []);
      assert.equal(await page.title(), "Lab <comparison>");

      // Every section and every chart is inside <main>; the summary comes first.
      const layout = await page.evaluate(() => ({
        outsideMain: [...document.body.children].filter((e) => e.tagName !== "MAIN").map((e) => e.outerHTML.slice(0, 80)),
        sections: [...document.querySelectorAll("section")].map((s) => [s.id, !!s.closest("main")]),
        strayCharts: [...document.querySelectorAll("svg, table, h2")].filter((e) => !e.closest("main")).length,
      }));
      assert.deepEqual(layout.outsideMain, [], "nothing in <body> but <main>");
      assert.equal(layout.strayCharts, 0);
      const ids = layout.sections.map(([id]) => id);
      assert.deepEqual(ids.slice(0, 2), ["verdict", "summary"], `sections: ${ids}`);
      for (const id of ["percentile-spectrum", "cold-start-against-warm", "latency-against-cost", "runs"]) {
        assert.ok(ids.includes(id), `section ${id} in ${ids}`);
      }
      assert.ok(layout.sections.every(([, inMain]) => inMain));

      // The study's table first, with a row per run.
      const headers = await page.locator("#summary table").first().locator("thead th").allTextContents();
      assert.deepEqual(headers, ["Architecture", "Average latency", "Monthly cost ($)", "Cost per million calls ($)"]);
      assert.equal(await page.locator("#summary table").first().locator("tbody tr").count(), files.length);

      // Spectrum: a line per run; the two phases of an architecture share a colour, and
      // only the concurrent one is dashed; the legend draws the same dashes.
      const lines = await page.locator("svg.spectrum polyline.series").evaluateAll((ls) =>
        ls.map((l) => ({ stroke: l.getAttribute("stroke"), dash: l.getAttribute("stroke-dasharray"), points: l.points.length })),
      );
      assert.equal(lines.length, files.length);
      assert.ok(lines.every((l) => l.points >= 5), JSON.stringify(lines));
      assert.equal(lines[0].stroke, lines[1].stroke);
      assert.notEqual(lines[0].stroke, lines[2].stroke);
      assert.deepEqual(lines.map((l) => l.dash !== null), [false, true, false, true]);
      const legend = await page.locator("#percentile-spectrum .legend svg line").evaluateAll((ls) =>
        ls.map((l) => ({ stroke: l.getAttribute("stroke"), dash: l.getAttribute("stroke-dasharray") })),
      );
      assert.deepEqual(legend, lines.map(({ stroke, dash }) => ({ stroke, dash })));
      const ticks = await page.locator("svg.spectrum text").allTextContents();
      for (const p of ["p50", "p90", "p99", "p99.9", "p99.99"]) assert.ok(ticks.includes(p), `tick ${p}`);

      // The scatter has a point per run with cost, and units are scaled (no "0.1ms").
      assert.equal(await page.locator("svg.scatter circle").count(), files.length);
      const body = await page.locator("main").innerText();
      assert.ok(body.includes("µs"), "sub-millisecond figures are in µs");

      // No label sticks out of its chart, and the page is no wider than the window.
      assert.deepEqual(await clippedLabels(page), [], `clipped labels at ${width} px`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `page is ${overflow}px wider than the window at ${width} px`);
      const shots = path.join(repoRoot, "target", "browser");
      mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: path.join(shots, `report-${width}.png`), fullPage: true });
      await page.close();
    }
  } finally {
    await browser.close();
  }
});

test("the clipping check catches a label outside its chart", async () => {
  // The check above must be able to fail: a page with one label past its SVG's edge.
  const dir = mkdtempSync(path.join(tmpdir(), "latency-clip-"));
  const html = path.join(dir, "clip.html");
  writeFileSync(
    html,
    '<!doctype html><main><svg class="bad" viewBox="0 0 100 50" width="100" height="50">' +
      '<text x="90" y="20" font-size="13">far too long</text></svg></main>',
  );
  const browser = await launchBrowser();
  try {
    const { page } = await openPage(browser, html, 1280);
    const clipped = await clippedLabels(page);
    assert.equal(clipped.length, 1);
    assert.equal(clipped[0].chart, "bad");
  } finally {
    await browser.close();
  }
});

test("the break-even chart prints every break-even volume inside the chart", async () => {
  // `latency cost --svg` writes the same chart the lab's page shows (latency_cost::break_even_svg).
  const dir = mkdtempSync(path.join(tmpdir(), "latency-cost-chart-"));
  const svg = path.join(dir, "cost.svg");
  const made = spawnSync(latencyBin, ["cost", "--svg", svg], { encoding: "utf8" });
  if (made.error) throw new Error(`cannot run ${latencyBin}: ${made.error.message} (run: cargo build)`);
  assert.equal(made.status, 0, made.stderr);
  const html = path.join(dir, "cost.html");
  writeFileSync(html, `<!doctype html><meta charset="utf-8"><main>${readFileSync(svg, "utf8")}</main>`);
  const browser = await launchBrowser();
  try {
    for (const width of WIDTHS) {
      const { page, outside } = await openPage(browser, html, width);
      assert.deepEqual(outside, []);
      const points = await page.locator("svg circle title").count();
      const values = await page.locator("svg text.break-even-value").allTextContents();
      assert.ok(values.length > 0 && values.length <= points, `${values.length} values, ${points} points`);
      assert.deepEqual(await clippedLabels(page), [], `clipped labels at ${width} px`);
      await page.close();
    }
  } finally {
    await browser.close();
  }
});
