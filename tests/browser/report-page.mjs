// What the browser tests and scripts/screenshot-report share about report.html: render
// it with the built binary, open it in headless Chromium at a width, and measure it.
import { spawnSync } from "node:child_process";
import { pathToFileURL } from "node:url";
import { latencyBin } from "./harness.mjs";

/** The widths the page must read at without clipping (laptop and desktop). */
export const WIDTHS = [1280, 1920];

/** Runs `latency report FILES --html HTML ...extra`; throws with stderr on failure. */
export function renderReport(files, html, extra = []) {
  const made = spawnSync(latencyBin, ["report", ...files, "--html", html, ...extra], {
    encoding: "utf8",
  });
  if (made.error) throw new Error(`cannot run ${latencyBin}: ${made.error.message} (run: cargo build)`);
  if (made.status !== 0) throw new Error(`latency report failed (${made.status}): ${made.stderr}`);
  return made.stdout;
}

/**
 * Opens the file `html` in a new page `width` px wide. Requests for anything but the file
 * itself are aborted and collected in `outside`; console errors go to `problems`.
 */
export async function openPage(browser, html, width) {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const fileUrl = pathToFileURL(html).href;
  const outside = [];
  const problems = [];
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url === fileUrl) return route.continue();
    outside.push(url);
    return route.abort();
  });
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(fileUrl);
  return { page, outside, problems };
}

/**
 * Every SVG <text> whose rendered box sticks out of its <svg>'s box by more than half a
 * pixel: [{ chart, text, overflow: {left, right, top, bottom} }].
 */
export function clippedLabels(page) {
  return page.evaluate(() => {
    const out = [];
    for (const text of document.querySelectorAll("svg text")) {
      const svg = text.ownerSVGElement;
      const t = text.getBoundingClientRect();
      const s = svg.getBoundingClientRect();
      if (t.width === 0 && t.height === 0) continue;
      const overflow = {
        left: s.left - t.left,
        right: t.right - s.right,
        top: s.top - t.top,
        bottom: t.bottom - s.bottom,
      };
      if (Object.values(overflow).some((v) => v > 0.5)) {
        out.push({ chart: svg.getAttribute("class"), text: text.textContent, overflow });
      }
    }
    return out;
  });
}
