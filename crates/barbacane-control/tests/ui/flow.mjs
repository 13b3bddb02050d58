// The UI's end-to-end flow in Debian's chromium (headless), driven by playwright-core, against
// the real control plane and data planes that tests/it/ui_browser.rs starts. It talks to that
// test on stdout/stdin: it prints `SWAP <artifact id>` when a node should start serving
// another artifact behind the control plane's back, and waits for `SWAPPED`.
//
// Every page it visits is checked by axe-core (no serious or critical violation), for markup
// that ran (a dialog, an injected element) and for Content-Security-Policy violations. With
// BARBACANE_UI_SCREENSHOTS=DIR it saves a PNG of each page there (docs/ui in the repository).

import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import { readFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { tmpdir } from "node:os";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (this script is run by tests/it/ui_browser.rs)`);
  return v;
};
const base = env("BARBACANE_UI_URL");
const token = env("BARBACANE_UI_TOKEN");
const projectId = env("BARBACANE_UI_PROJECT");
const projectName = env("BARBACANE_UI_PROJECT_NAME");
const specA = env("BARBACANE_UI_SPEC_A");
const specB = env("BARBACANE_UI_SPEC_B");
const xssName = env("BARBACANE_UI_XSS_NAME");
const plainName = env("BARBACANE_UI_PLAIN_NAME");
const chromiumPath = process.env.BARBACANE_CHROMIUM || "/usr/bin/chromium";
const shots = process.env.BARBACANE_UI_SCREENSHOTS || "";

const lines = createInterface({ input: process.stdin });
const inbox = [];
let waiter = null;
lines.on("line", (l) => { if (waiter) { const w = waiter; waiter = null; w(l); } else inbox.push(l); });
const nextLine = () => inbox.length ? Promise.resolve(inbox.shift()) : new Promise((r) => { waiter = r; });

function step(what) { console.log(`step: ${what}`); }
function fail(msg) { throw new Error(msg); }

const dialogs = [];
const cspViolations = [];
const checked = [];

async function axe(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  });
  const serious = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of result) console.log(`axe ${name}: ${v.impact} ${v.id} (${v.help}) at ${v.nodes.join(", ")}`);
  if (serious.length) fail(`axe found serious violations on ${name}: ${JSON.stringify(serious)}`);
}

async function noInjectedMarkup(page, name) {
  const injected = await page.evaluate(() => document.querySelectorAll('img[src="x"], img[onerror], script:not([src])').length);
  if (injected) fail(`markup from observed data became elements on ${name}`);
  const fired = await page.evaluate(() => window.__xss === true);
  if (fired) fail(`injected code ran on ${name}`);
}

async function check(page, name) {
  await page.waitForLoadState("domcontentloaded");
  await noInjectedMarkup(page, name);
  await axe(page, name);
  checked.push(name);
  if (shots) {
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  }
}

/// Reloads until `probe` holds (the live regions update too, but a reload is the no-JS path).
async function until(page, what, probe, seconds = 90) {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > end) fail(`timed out waiting for ${what} on ${page.url()}`);
    await page.waitForTimeout(700);
    await page.reload();
  }
}

const text = (page, selector) => page.locator(selector).first().innerText();

async function compileAndWait(page) {
  await page.getByRole("button", { name: /^Compile revision/ }).click();
  await page.waitForURL(/\/ui\/compilations\//);
  await until(page, "the compilation to succeed", async () => (await text(page, "#compilation-status")).includes("succeeded"), 120);
  const href = await page.locator("#artifact-link").getAttribute("href");
  return href.split("/").pop();
}

async function upload(page, file) {
  await page.goto(`${base}/ui/projects/${projectId}`);
  await page.setInputFiles("#spec-file", file);
  await page.getByRole("button", { name: "Upload" }).click();
  await page.waitForURL(/\/ui\/specs\//);
}

const profile = mkdtempSync(join(tmpdir(), "barbacane-ui-"));
// A fresh profile per run (--user-data-dir, through launchPersistentContext).
const context = await chromium.launchPersistentContext(profile, {
  executablePath: chromiumPath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
  viewport: { width: 1280, height: 860 },
  locale: "en-GB",
  timezoneId: "Europe/Paris",
});
try {
  const page = await context.newPage();
  page.on("dialog", async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  page.on("console", (m) => { if (/Content.Security.Policy|Refused to/i.test(m.text())) cspViolations.push(m.text()); });
  page.setDefaultTimeout(30000);

  step("sign in");
  await page.goto(`${base}/ui/`);
  if (!page.url().includes("/ui/login")) fail(`not sent to sign-in: ${page.url()}`);
  await check(page, "login");
  await page.fill("#token", "not-the-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  if (!(await page.content()).includes("not accepted")) fail("a wrong token was not refused");
  await page.fill("#token", token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${base}/ui/`);
  // Times are shown in the viewer's zone, with UTC kept in the title.
  const title = await page.locator("time").first().getAttribute("title");
  if (!title.endsWith("UTC")) fail(`time title is not UTC: ${title}`);
  if ((await page.locator("time").first().innerText()).includes("UTC")) fail("time not converted to the viewer's zone");
  await check(page, "projects");

  step("upload a spec and compile it");
  await page.getByRole("link", { name: projectName, exact: true }).click();
  await check(page, "project");
  await upload(page, specA);
  await check(page, "spec");
  const artifactA = await compileAndWait(page);
  await check(page, "compilation");
  await page.click("#artifact-link");
  if (!(await page.content()).includes("GET /hello")) fail("artifact page does not list its route");
  await check(page, "artifact");

  step("deploy, with a confirmation naming what changes");
  await page.getByRole("link", { name: "Deploy this artifact…" }).click();
  await page.waitForURL(/\/deploy\?artifact_id=/);
  const confirm = await page.locator("main").innerText();
  if (!confirm.includes(xssName) || !confirm.includes(plainName)) fail("the confirmation does not name both nodes");
  if (!confirm.includes("2 node(s)")) fail("the confirmation does not count the nodes");
  await check(page, "deploy-confirm");
  await page.click("#confirm-deploy");
  await page.waitForURL(/\/ui\/deployments\//);
  await until(page, "both nodes to apply the deployment", async () => (await page.locator("#deployment-nodes tbody tr", { hasText: "applied" }).count()) === 2);
  await check(page, "deployment");

  step("see both nodes Synced");
  await page.goto(`${base}/ui/projects/${projectId}/fleet`);
  await until(page, "both nodes Synced and Healthy", async () => {
    const rows = page.locator("#fleet-table tbody tr");
    if ((await rows.count()) !== 2) return false;
    for (let i = 0; i < 2; i++) {
      const t = await rows.nth(i).innerText();
      if (!t.includes("Synced") || !t.includes("Healthy")) return false;
    }
    return true;
  });
  const names = await page.locator(".node-name").allInnerTexts();
  if (!names.includes(xssName)) fail(`the node name is not shown as text: ${JSON.stringify(names)}`);
  await check(page, "fleet");
  await page.setViewportSize({ width: 390, height: 844 });
  await check(page, "fleet-phone");
  await page.setViewportSize({ width: 1280, height: 860 });

  step("a second artifact, then one node swaps to it behind the control plane's back");
  await upload(page, specB);
  const artifactB = await compileAndWait(page);
  if (artifactA === artifactB) fail("the second compilation made the same artifact");
  console.log(`SWAP ${artifactB}`);
  const reply = await nextLine();
  if (reply !== "SWAPPED") fail(`unexpected reply ${reply}`);

  step("see the finding appear");
  await page.goto(`${base}/ui/drift?project=${projectId}&state=open`);
  const finding = page.locator("#findings tr", { hasText: "hash-mismatch" }).filter({ hasText: xssName });
  await until(page, "the hash-mismatch finding", async () => (await finding.count()) === 1, 120);
  await check(page, "drift");
  await finding.getByRole("link", { name: "hash-mismatch" }).click();
  await page.waitForURL(/\/ui\/drift\/findings\//);
  if ((await text(page, "h1")) !== `hash-mismatch on ${xssName}`) fail(`finding heading: ${await text(page, "h1")}`);
  await check(page, "finding");

  step("propose and read the dry run");
  await page.fill("#proposed-by", "Bob Proposer");
  await page.click("#propose");
  await page.waitForSelector("article.remediation");
  const added = await page.locator("article.remediation .diff li.added").allInnerTexts();
  const removed = await page.locator("article.remediation .diff li.removed").allInnerTexts();
  if (!added.some((t) => t.includes("GET /hello"))) fail(`dry run does not add GET /hello: ${added}`);
  if (!removed.some((t) => t.includes("GET /bye"))) fail(`dry run does not remove GET /bye: ${removed}`);
  await check(page, "remediation-dry-run");

  step("approve with a comment and see it resolve");
  const approve = page.locator("form[aria-label=Approve]");
  await approve.getByLabel("Your name (recorded)").fill("Alice Operator");
  await approve.getByLabel("Comment (ticket, reason)").fill("CAB-42: restore the approved artifact");
  await approve.getByRole("button", { name: "Approve and converge" }).click();
  await page.waitForSelector("article.remediation .notice");
  await until(page, "the finding to resolve", async () => (await text(page, "#finding-state")).includes("resolved"), 120);
  const history = await text(page, "ol.timeline");
  for (const expected of ["Opened", "proposed by Bob Proposer", "approved", "Alice Operator", "CAB-42", "Resolved"]) {
    if (!history.includes(expected)) fail(`the timeline lacks "${expected}": ${history}`);
  }
  await check(page, "finding-resolved");

  step("the audit trail, and every other page");
  await page.goto(`${base}/ui/drift/audit`);
  const audit = await page.locator("main").innerText();
  if (!audit.includes("Alice Operator") || !audit.includes("CAB-42")) fail("the audit trail lacks the approval");
  await check(page, "audit");
  await page.goto(`${base}/ui/fleet`);
  await until(page, "both nodes Synced again", async () => (await page.locator("#fleet-table tbody tr", { hasText: "Synced" }).count()) === 2);
  await check(page, "fleet-all");
  for (const [name, path] of [
    ["artifacts", `/ui/projects/${projectId}/artifacts`],
    ["deployments", `/ui/projects/${projectId}/deployments`],
    ["api-keys", `/ui/projects/${projectId}/api-keys`],
    ["webhooks", "/ui/webhooks"],
  ]) {
    await page.goto(base + path);
    await check(page, name);
  }

  step("keyboard: the skip link is the first stop and moves focus to the content");
  await page.goto(`${base}/ui/fleet`);
  await page.keyboard.press("Tab");
  if ((await page.evaluate(() => document.activeElement.textContent)) !== "Skip to content") fail("the first tab stop is not the skip link");
  await page.keyboard.press("Enter");
  if ((await page.evaluate(() => document.activeElement.id)) !== "main") fail("the skip link does not move focus to the content");

  step("sign out");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/ui\/login/);
  await page.goto(`${base}/ui/fleet`);
  if (!page.url().includes("/ui/login")) fail("still signed in after sign-out");

  if (dialogs.length) fail(`dialogs opened (injected code ran): ${dialogs}`);
  if (cspViolations.length) fail(`Content-Security-Policy violations: ${cspViolations}`);
  console.log(`UI E2E OK: ${checked.length} pages checked (${checked.join(", ")})`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  lines.close();
}
