// Test support for tests/web/browser: Debian's chromium driven by
// playwright-core, and a place for screenshots (the tests' artefacts).

import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));

/** Headless chromium: CHROMIUM_BIN, else /usr/bin/chromium (Debian's package). */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-default-apps",
      "--disable-extensions",
      "--disable-sync",
      "--no-first-run",
      "--disable-dev-shm-usage",
    ],
  });
}

/** The artefacts directory: WSVISOR_ARTIFACTS, else tests/web/artifacts (git-ignored); created. */
export function artifactsDir() {
  const dir = resolve(process.env.WSVISOR_ARTIFACTS || join(here, "..", "artifacts"));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Saves a screenshot of the page's viewport as ARTIFACTS/NAME.png; returns its path. */
export async function screenshot(page, name, options = {}) {
  const path = join(artifactsDir(), `${name}.png`);
  await page.screenshot({ path, ...options });
  return path;
}

/**
 * A new context and page with a ~1000 px wide viewport, whose console errors
 * and uncaught exceptions are collected in `page.problems` (a test can assert
 * that the page ran cleanly).
 */
export async function newPage(browser, { width = 1000, height = 720 } = {}) {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", (err) => page.problems.push(`uncaught: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") page.problems.push(`console: ${msg.text()}`);
  });
  return { context, page };
}
