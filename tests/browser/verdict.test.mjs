// The verdict that opens report.html, read in a real browser from a real `latency lab`
// run: it names the cheapest architecture at each traffic level, the fastest, the
// failed ones and the break-even points, and each claim is checked against the run's
// own Reports (the outcome JSON), not against the renderer's code. Then the summary
// groups each architecture's runs and the notes are folded under each architecture.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { latencyBin, launchBrowser, repoRoot } from "./harness.mjs";
import { WIDTHS, openPage, renderReport } from "./report-page.mjs";

/** `2.63 million` → 2630000: the verdict's volumes in words. */
function words(text) {
  const m = /^([\d.]+)(?: (thousand|million|billion))?$/.exec(text.trim());
  assert.ok(m, `a volume in words: ${JSON.stringify(text)}`);
  const scale = { thousand: 1e3, million: 1e6, billion: 1e9 }[m[2]] ?? 1;
  return Number(m[1]) * scale;
}

/** The architecture of a Report: its label without `, N concurrent`. */
const architecture = (report) => report.target.label.replace(/, \d+ concurrent$/, "");

/** What a run's own figures say failed: a counter check or any request. */
const failedRun = (report) =>
  report.results.counter.verdict === "fail" || Object.values(report.results.errors).some((n) => n > 0);

/** The verdict's lines as { kind: [{ text, names }] } from the open page. */
function verdictLines(page) {
  return page.locator("#verdict li[data-verdict]").evaluateAll((lis) => {
    const out = {};
    for (const li of lis) {
      const kind = li.dataset.verdict;
      (out[kind] ??= []).push({
        text: li.textContent.replace(/^[^:]+:\s*/, ""),
        names: [...li.querySelectorAll("b.arch")].map((b) => b.textContent),
      });
    }
    return out;
  });
}

test("a lab run's report.html opens with a verdict its own Reports bear out", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "latency-verdict-"));
  const outcomePath = path.join(dir, "outcome.json");
  // A provisioned row, a per-call row (so there is a break-even point) and the study's
  // read-modify-write variant (which loses updates under concurrency).
  const run = spawnSync(
    latencyBin,
    [
      "lab", "--quick", "--out", dir, "--json", outcomePath,
      "--only", "ec2,lambda-dynamodb,lambda-dynamodb?mode=read-modify-write",
    ],
    { cwd: repoRoot, encoding: "utf8", env: { ...process.env, RUST_LOG: "warn" } },
  );
  if (run.error) throw new Error(`cannot run ${latencyBin}: ${run.error.message} (run: cargo build)`);
  assert.equal(run.status, 0, `latency lab failed:\n${run.stdout}\n${run.stderr}`);
  const outcome = JSON.parse(readFileSync(outcomePath, "utf8"));
  const reports = outcome.rows.filter((r) => r.measured).map((r) => r.measured);
  const skipped = outcome.rows.filter((r) => r.skipped).map((r) => r.skipped.architecture);
  assert.deepEqual(skipped, [], "every row measured (the Lambda rows need scripts/services install)");
  const archs = [...new Set(reports.map(architecture))];
  assert.equal(archs.length, 3, JSON.stringify(archs));

  // What the Reports say: which architectures failed, which passed, their costs.
  const failed = new Set(reports.filter(failedRun).map(architecture));
  const passed = archs.filter((a) => !failed.has(a));
  const costOf = (a) => reports.find((r) => architecture(r) === a).cost;
  const at = (a, calls) => (costOf(a).monthly_usd ?? 0) + ((costOf(a).per_million_calls_usd ?? 0) * calls) / 1e6;
  const sequential = (a) => reports.find((r) => architecture(r) === a && r.plan.connections === 1);

  const browser = await launchBrowser();
  try {
    for (const width of WIDTHS) {
      const { page, outside, problems } = await openPage(browser, path.join(dir, "report.html"), width);
      assert.deepEqual(outside, []);
      assert.deepEqual(problems, []);

      // The verdict is the first section, in the first screen, above the summary table.
      const ids = await page.locator("main section").evaluateAll((ss) => ss.map((s) => s.id));
      assert.deepEqual(ids.slice(0, 2), ["verdict", "summary"], `sections: ${ids}`);
      const verdictBox = await page.locator("#verdict").boundingBox();
      assert.ok(verdictBox.y + verdictBox.height <= 900, `the verdict ends at ${verdictBox.y + verdictBox.height}px`);

      const lines = await verdictLines(page);

      // Failed: exactly the architectures whose Reports show a failed check or request.
      if (failed.size > 0) {
        // One line per failed architecture, naming it first.
        assert.deepEqual(new Set((lines.failed ?? []).map((l) => l.names[0])), failed, JSON.stringify(lines));
        assert.equal(lines.failed.length, failed.size);
        assert.equal(lines.passed, undefined);
      } else {
        assert.equal(lines.failed, undefined, JSON.stringify(lines));
        assert.match(lines.passed[0].text, /passed their counter checks and answered every request/);
      }

      // Cheapest: at each level named, the architecture that passed with the lowest
      // cost there (monthly cost plus cost per call, from the Reports' cost figures).
      assert.ok(passed.length > 0, "something passed");
      assert.equal(lines.cheapest?.length, 1, JSON.stringify(lines));
      const levelsNamed = [];
      const segments = lines.cheapest[0].text.split("; ");
      assert.equal(segments.length, lines.cheapest[0].names.length);
      segments.forEach((segment, i) => {
        const m = /^at (.+?) calls a month, (.+) \(\$/.exec(segment);
        assert.ok(m, `cheapest segment: ${segment}`);
        const name = lines.cheapest[0].names[i];
        assert.equal(m[2], name);
        for (const level of m[1].split(/, | and /).map(words)) {
          levelsNamed.push(level);
          const best = passed.reduce((a, b) => (at(b, level) < at(a, level) ? b : a));
          assert.equal(name, best, `cheapest at ${level} calls a month`);
        }
      });
      assert.deepEqual(levelsNamed, [1e6, 1e7, 1e8], "the cost model's volumes, in order");

      // Fastest: the passed architecture with the lowest average one request at a time.
      const fastest = passed.reduce((a, b) =>
        sequential(b).results.mean_all_ms < sequential(a).results.mean_all_ms ? b : a,
      );
      assert.equal(lines.fastest?.[0].names[0], fastest, JSON.stringify(lines.fastest));

      // Break-even: the first point is between the cheapest per-call and the cheapest
      // provisioned architecture that passed, at the volume where their costs meet.
      const perCall = passed.filter((a) => costOf(a).per_million_calls_usd != null);
      const provisioned = passed.filter((a) => costOf(a).monthly_usd != null);
      if (perCall.length && provisioned.length) {
        const s = perCall.reduce((a, b) => (costOf(b).per_million_calls_usd < costOf(a).per_million_calls_usd ? b : a));
        const p = provisioned.reduce((a, b) => (costOf(b).monthly_usd < costOf(a).monthly_usd ? b : a));
        const point = lines["break-even"]?.[0];
        assert.ok(point, JSON.stringify(lines));
        assert.deepEqual(point.names.slice(0, 2), [s, p]);
        const m = /cost the same at (.+?) calls a month/.exec(point.text);
        assert.ok(m, point.text);
        const volume = words(m[1]);
        const ratio = at(s, volume) / at(p, volume);
        assert.ok(Math.abs(ratio - 1) < 0.01, `at ${volume} calls: ${at(s, volume)} vs ${at(p, volume)}`);
        // Below the point the per-call one is cheaper: the verdict says which.
        assert.match(point.text, new RegExp(`below that ${s.replace(/[()+]/g, "\\$&")} is cheaper`));
      }

      // The summary groups each architecture's two runs; notes fold under each.
      const groups = await page.locator("#summary table").first().locator("tbody.arch").evaluateAll((bs) =>
        bs.map((b) => [b.dataset.architecture, b.querySelectorAll("tr").length]),
      );
      assert.deepEqual(groups, archs.map((a) => [a, 2]));
      const details = page.locator("#summary details.notes");
      assert.deepEqual(await details.evaluateAll((ds) => ds.map((d) => d.dataset.architecture)), archs);
      assert.deepEqual(await details.evaluateAll((ds) => ds.map((d) => d.open)), archs.map(() => false));
      const firstNote = details.first().locator("li").first();
      assert.equal(await firstNote.isVisible(), false, "folded");
      await details.first().locator("summary").click();
      assert.equal(await firstNote.isVisible(), true, "opens on a click");
      await page.close();
    }
  } finally {
    await browser.close();
  }
});

test("the verdict names what failed, and names nothing that failed as cheapest or fastest", async () => {
  // Real Reports (the committed fixtures), shaped as the lab's: the fastest and
  // cheapest architecture on paper lost updates and requests, so it must be listed as
  // failed and neither cheapest nor fastest.
  const fixtures = path.join(repoRoot, "crates/bench/tests/fixtures");
  const read = (name) => JSON.parse(readFileSync(path.join(fixtures, name), "utf8"));
  const dir = mkdtempSync(path.join(tmpdir(), "latency-verdict-fail-"));
  const rows = [];
  const shapes = [
    ["Lossy <fast & cheap>", 0.5, { monthly_usd: 1, per_million_calls_usd: null }, true],
    ["Solid", 2.0, { monthly_usd: 20, per_million_calls_usd: null }, false],
    ["Slow", 9.0, { monthly_usd: 50, per_million_calls_usd: null }, false],
  ];
  for (const [label, mean, cost, lossy] of shapes) {
    for (const connections of [1, 8]) {
      const r = read("server-vm.json");
      r.target.label = connections > 1 ? `${label}, ${connections} concurrent` : label;
      r.plan.connections = connections;
      r.results.mean_all_ms = mean * connections;
      r.results.errors = {};
      r.results.counter.verdict = "pass";
      r.cost = { ...cost, note: "test prices" };
      if (lossy && connections > 1) {
        r.results.counter.verdict = "fail";
        r.results.counter.duplicates = 4;
        r.results.errors = { timeout: 3 };
      }
      rows.push(r);
    }
  }
  const files = rows.map((r, i) => {
    const f = path.join(dir, `${i}.json`);
    writeFileSync(f, JSON.stringify(r));
    return f;
  });
  const html = path.join(dir, "report.html");
  renderReport(files, html);
  const browser = await launchBrowser();
  try {
    const { page } = await openPage(browser, html, WIDTHS[0]);
    const lines = await verdictLines(page);
    assert.deepEqual(lines.failed?.[0].names, ["Lossy <fast & cheap>"], JSON.stringify(lines));
    assert.match(lines.failed[0].text, /counter check failed with 8 concurrent \(4 duplicates/);
    assert.match(lines.failed[0].text, /3 of \d+ requests failed with 8 concurrent \(3 timeout\)/);
    assert.deepEqual(lines.cheapest?.[0].names, ["Solid"]);
    assert.deepEqual(lines.fastest?.[0].names, ["Solid"]);
    // The label's markup is text, not markup.
    assert.equal(await page.locator("#verdict b.arch").filter({ hasText: "<fast & cheap>" }).count(), 1);
    await page.close();
  } finally {
    await browser.close();
  }
});
