// The report pages in a real Chromium (Debian's, driven by playwright-core): axe-core's
// WCAG 2.2 AA rules on screen and in print, an A4 PDF, and screenshots for a person to see.
//
//   node report_page.mjs JOB.json
//
// JOB.json: {"chromium": "/usr/bin/chromium",
//            "axe": ["/abs/board.html", ...],              // checked on screen and in print
//            "pdf": [{"page": "/abs/board.html", "out": "/abs/board.pdf"}],
//            "shots": [{"page": "...", "out": "...png", "from": "css selector" | null,
//                       "css": "extra style for the picture" | null}]}
// Prints one JSON object: {"axe": {page: {"screen": [violations], "print": [...]}},
// "overflow": {page: [what sticks out of the A4 print width]}, "pdf": [...], "shots": [...],
// "requests": [any URL a page asked for]}.
// One browser for the whole job, so the Python test starts it once.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];
// A4 at 96 CSS px to the inch, and its print margins (the page's @page rule), for pictures.
const A4 = { width: 794, height: 1123 };
const PRINT_WIDTH = 703; // A4's 210 mm less the 12 mm margins either side
const MARGINS = "@media print { body { padding: 14mm 12mm 16mm 12mm; } }";

const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
const browser = await chromium.launch({
  executablePath: job.chromium,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const out = { axe: {}, overflow: {}, pdf: [], shots: [], requests: [] };
try {
  const context = await browser.newContext({ viewport: A4 });
  // Anything the page asks for besides itself would be an external request: note it.
  context.on("request", (request) => {
    if (!request.url().startsWith("file:")) out.requests.push(request.url());
  });
  await context.route(/^(?!file:)/, (route) => route.abort());

  for (const file of job.axe ?? []) {
    const started = Date.now();
    const page = await context.newPage();
    await page.goto(pathToFileURL(file).href);
    await page.addScriptTag({ path: AXE });
    const results = {};
    for (const media of ["screen", "print"]) {
      await page.emulateMedia({ media });
      const found = await page.evaluate(
        (tags) => window.axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] }),
        TAGS,
      );
      results[media] = found.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
      }));
    }
    out.axe[file] = results;
    if (process.env.REPORT_PAGE_TIMES) process.stderr.write(`${file}: ${Date.now() - started} ms\n`);
    // Laid out as printed, at the width of A4 inside its margins: nothing may stick out.
    await page.setViewportSize({ width: PRINT_WIDTH, height: A4.height });
    await page.emulateMedia({ media: "print" });
    out.overflow[file] = await page.evaluate(() => {
      const limit = document.documentElement.clientWidth + 0.5;
      return [...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > limit)
        .slice(0, 5)
        .map((e) => `${e.tagName.toLowerCase()}.${e.className?.baseVal ?? e.className} ends at ${Math.round(e.getBoundingClientRect().right)}px`);
    });
    await page.close();
  }

  for (const { page: file, out: pdf } of job.pdf ?? []) {
    const page = await context.newPage();
    await page.goto(pathToFileURL(file).href);
    await page.pdf({ path: pdf, format: "A4", preferCSSPageSize: true, printBackground: true, tagged: true, outline: true });
    out.pdf.push(pdf);
    await page.close();
  }

  for (const { page: file, out: png, from, css } of job.shots ?? []) {
    const page = await context.newPage();
    await page.goto(pathToFileURL(file).href);
    await page.emulateMedia({ media: "print" });
    await page.addStyleTag({ content: MARGINS + (css ?? "") });
    let top = 0;
    if (from) {
      const box = await page.locator(from).first().boundingBox();
      top = box ? Math.max(0, Math.floor(box.y) - 53) : 0; // 53 px: the top margin, 14 mm
    }
    await page.screenshot({ path: png, clip: { x: 0, y: top, width: A4.width, height: A4.height }, fullPage: true });
    out.shots.push(png);
    await page.close();
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
