// Screenshots of a report.html in headless Chromium (used by scripts/screenshot-report):
//   node screenshot.mjs REPORT.html OUT_PREFIX [WIDTH...]
// writes OUT_PREFIX-WIDTH.png (the full page) and OUT_PREFIX-WIDTH-top.png (the first
// 1600 px: summary and spectrum) and OUT_PREFIX-WIDTH-SECTION.png (each chart section)
// for each width (default 1280), and fails if an SVG label
// sticks out of its chart or anything is loaded from outside at that width.
import { launchBrowser } from "./harness.mjs";
import { WIDTHS, clippedLabels, openPage } from "./report-page.mjs";

const [html, prefix, ...widths] = process.argv.slice(2);
if (!html || !prefix) {
  console.error("usage: node screenshot.mjs REPORT.html OUT_PREFIX [WIDTH...]");
  process.exit(2);
}
const browser = await launchBrowser();
let failed = false;
try {
  for (const width of widths.length ? widths.map(Number) : [WIDTHS[0]]) {
    const { page, outside } = await openPage(browser, html, width);
    const clipped = await clippedLabels(page);
    if (clipped.length || outside.length) {
      console.error(`at ${width} px: clipped ${JSON.stringify(clipped)}, outside ${JSON.stringify(outside)}`);
      failed = true;
    }
    const file = `${prefix}-${width}.png`;
    await page.screenshot({ path: file, fullPage: true });
    const top = `${prefix}-${width}-top.png`;
    await page.screenshot({ path: top, fullPage: true, clip: { x: 0, y: 0, width, height: 1600 } });
    console.log(file);
    console.log(top);
    // Each chart section alone, to look at closely.
    for (const id of await page.locator("main section[id]").evaluateAll((ss) => ss.map((s) => s.id))) {
      if (id === "summary" || id === "runs") continue;
      const part = `${prefix}-${width}-${id}.png`;
      await page.locator(`#${id}`).screenshot({ path: part });
      console.log(part);
    }
    await page.close();
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
