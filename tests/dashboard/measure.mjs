// Opens dashboard pages in headless Chromium at 1280x800, saves a full-page screenshot of each,
// and prints (one JSON line) what the Python test asserts about the elements it names: their
// bounding box and, for text, its colour and the colour actually painted behind it.
// Usage: node measure.mjs <spec.json>   spec: {base, cookie, out, pages: [{name, path, selectors}]}
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

// playwright-core is installed once, by the browser SDK's `npm ci`; the dashboard borrows it.
const require = createRequire(fileURLToPath(new URL('../../sdks/browser/package.json', import.meta.url)));
const { chromium } = require('playwright-core');

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const { hostname } = new URL(spec.base);
await context.addCookies([{ name: 'sessionid', value: spec.cookie, domain: hostname, path: '/' }]);
const page = await context.newPage();
const result = {};
for (const wanted of spec.pages) {
  const response = await page.goto(spec.base + wanted.path, { waitUntil: 'load' });
  await page.screenshot({ path: `${spec.out}/${wanted.name}.png`, fullPage: true });
  const measured = { status: response.status(), documentWidth: await page.evaluate(() => document.documentElement.scrollWidth), elements: {} };
  for (const selector of wanted.selectors) {
    measured.elements[selector] = await page.evaluate((css) => {
      const element = document.querySelector(css);
      if (!element) return null;
      const box = element.getBoundingClientRect();
      const style = getComputedStyle(element);
      // The first non-transparent background among the element and its ancestors is what the
      // text is painted on.
      let background = 'rgb(255, 255, 255)';
      for (let node = element; node; node = node.parentElement) {
        const colour = getComputedStyle(node).backgroundColor;
        if (colour && colour !== 'transparent' && !colour.endsWith(', 0)')) { background = colour; break; }
      }
      // Clipped by a scrolling or hidden-overflow ancestor (the admin's result table scrolls
      // sideways): then part of it is not on screen even though its own box is fine.
      let clipped = false;
      for (let node = element.parentElement; node; node = node.parentElement) {
        if (getComputedStyle(node).overflowX === 'visible') continue;
        const frame = node.getBoundingClientRect();
        if (box.left < frame.left - 0.5 || box.right > frame.right + 0.5) { clipped = true; break; }
      }
      return {
        clipped,
        x: box.x + window.scrollX, y: box.y + window.scrollY, width: box.width, height: box.height,
        visible: style.visibility !== 'hidden' && style.display !== 'none' && Number(style.opacity) > 0,
        color: style.color, background,
      };
    }, selector);
  }
  result[wanted.name] = measured;
}
await browser.close();
console.log(JSON.stringify(result));
