// The browser test: serves the page from one origin, starts eliza_server
// on another, loads the page in headless Chromium (Debian's, driven by
// puppeteer-core) and asserts exactly what the page shows:
//   1. CORS allowing the page's origin: every call succeeds, with the
//      sentences, streamed messages and error details the server sends;
//      the GET call went out as GET; no console errors. Saves a screenshot.
//   2. CORS off (no --cors-origin): every call fails, and Chromium says
//      CORS blocked it.
//   3. CORS allowing only another origin: the same.
// Usage: node test.mjs --server PATH/eliza_server --site DIR --out DIR
// CHROMIUM overrides the browser (default /usr/bin/chromium).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import puppeteer from "puppeteer-core";

const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) {
  if (process.argv[i].startsWith("--")) args[process.argv[i].slice(2)] = process.argv[i + 1];
}
for (const k of ["server", "site", "out"]) {
  if (!args[k]) {
    console.error("usage: node test.mjs --server PATH/eliza_server --site DIR --out DIR");
    process.exit(2);
  }
}
const chromium = process.env.CHROMIUM ?? "/usr/bin/chromium";
if (!existsSync(chromium)) {
  console.error(`FAIL: no browser at ${chromium} (install Debian's chromium: scripts/deps.sh)`);
  process.exit(1);
}

let failures = 0;
function check(what, actual, expected) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a === e) {
    console.log(`  ok    ${what}: ${a}`);
  } else {
    failures++;
    console.log(`  FAIL  ${what}:\n          got      ${a}\n          expected ${e}`);
  }
}
function checkTrue(what, cond, detail) {
  if (cond) console.log(`  ok    ${what}`);
  else {
    failures++;
    console.log(`  FAIL  ${what}${detail ? `: ${detail}` : ""}`);
  }
}

// ---- the page's origin: a static server for the site directory ----
const siteDir = path.resolve(args.site);
const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8" };
const site = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  const name = url.pathname === "/" ? "index.html" : url.pathname.slice(1);
  const file = path.join(siteDir, path.normalize(name));
  if (req.method !== "GET" || !file.startsWith(siteDir + path.sep) || !existsSync(file)) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": types[path.extname(file)] ?? "application/octet-stream" });
  res.end(readFileSync(file));
});
await new Promise((ok) => site.listen(0, "127.0.0.1", ok));
const pageOrigin = `http://localhost:${site.address().port}`;

// ---- eliza_server ----
function startEliza(extra) {
  return new Promise((resolve, reject) => {
    const proc = spawn(args.server, [...extra, "0"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const timer = setTimeout(() => reject(new Error(`eliza_server did not start: ${out}`)), 10000);
    const onData = (d) => {
      out += d;
      const m = /^listening on (\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1], log: () => out });
      }
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", onData);
    proc.on("exit", (code) => reject(new Error(`eliza_server exited (${code}): ${out}`)));
  });
}
function stopEliza(e) {
  return new Promise((resolve) => {
    e.proc.removeAllListeners("exit");
    e.proc.on("exit", (code, signal) => resolve(code ?? signal));
    e.proc.kill("SIGINT");
  });
}

// ---- the browser ----
const profile = mkdtempSync(path.join(tmpdir(), "connectc-chromium-"));
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  userDataDir: profile,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
console.log(`browser: ${await browser.version()}`);

const ids = [
  "origin", "server", "say-post-method", "say-post", "say-get-method", "say-get",
  "introduce", "introduce-end", "error-code", "error-message", "error-details",
  "grpcweb-say", "grpcweb-error-code", "grpcweb-error-message", "grpcweb-error-details", "status",
];

// Loads the page against `serverUrl`; returns what it shows, the console's
// errors and the requests it made to the server.
async function runPage(serverUrl, screenshot) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1000, height: 560, deviceScaleFactor: 1 });
  const consoleErrors = [];
  const requests = [];
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(`page error: ${e.message}`));
  page.on("request", (r) => {
    const url = r.url();
    if (url.startsWith(serverUrl)) requests.push(`${r.method()} ${url.slice(serverUrl.length)}`);
  });
  await page.goto(`${pageOrigin}/index.html?server=${encodeURIComponent(serverUrl)}`);
  // On a timeout the page's state is still collected: #status then reads
  // "running" and the checks show what did and did not arrive.
  await page
    .waitForFunction(() => document.getElementById("status")?.textContent === "done", {
      timeout: 20000,
    })
    .catch((e) => consoleErrors.push(`test: ${e.message}`));
  const shown = await page.evaluate((ids) => {
    const out = {};
    for (const id of ids) {
      const e = document.getElementById(id);
      out[id] = !e ? null : e.tagName === "OL" || e.tagName === "UL"
        ? [...e.querySelectorAll("li")].map((li) => li.textContent)
        : e.textContent;
    }
    return out;
  }, ids);
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  await page.close();
  return { shown, consoleErrors, requests };
}

const detail =
  "connectrpc.eliza.v1.FieldViolation: field=sentence, " +
  "description=Eliza needs a sentence to answer; this one has no words";

async function scenario(title, elizaArgs, verify) {
  console.log(`\n${title}`);
  const eliza = await startEliza(elizaArgs);
  try {
    verify(eliza.url, await runPage(eliza.url, verify.screenshot));
  } finally {
    check("eliza_server stopped cleanly on SIGINT", await stopEliza(eliza), 0);
  }
}

function verifyAllowed(url, { shown, consoleErrors, requests }) {
  check("what the page shows", shown, {
    origin: pageOrigin,
    server: url,
    "say-post-method": "POST",
    "say-post": "Hello. How are you feeling today?",
    "say-get-method": "GET",
    "say-get": "Do you often feel that way?",
    introduce: [
      "Hi browser. I'm Eliza.",
      "I'm a Rogerian psychotherapist, browser.",
      "How are you feeling today, browser?",
    ],
    "introduce-end": "(end of stream, 3 messages)",
    "error-code": "invalid_argument",
    "error-message": "say something: the sentence is empty",
    "error-details": [detail],
    "grpcweb-say": "Why do you ask?",
    "grpcweb-error-code": "invalid_argument",
    "grpcweb-error-message": "say something: the sentence is empty",
    "grpcweb-error-details": [detail],
    status: "done",
  });
  // Chromium logs every response that is not 2xx: the Connect error is 400.
  check("console errors", consoleErrors, [
    "Failed to load resource: the server responded with a status of 400 (Bad Request)",
  ]);
  const say = "/connectrpc.eliza.v1.ElizaService/Say";
  const get = requests.filter((r) => r.startsWith(`GET ${say}?`));
  check("GET requests to Say", get.length, 1);
  const query = get.length === 1 ? new URLSearchParams(get[0].slice(get[0].indexOf("?"))) : null;
  checkTrue(
    "the GET carries connect=v1, encoding=proto and the message",
    query?.get("connect") === "v1" && query?.get("encoding") === "proto" && !!query?.get("message"),
    get[0],
  );
  check("POST requests", requests.filter((r) => r.startsWith("POST ")).sort(), [
    "POST /connectrpc.eliza.v1.ElizaService/Introduce",
    `POST ${say}`, `POST ${say}`, `POST ${say}`, `POST ${say}`,
  ]);
}
verifyAllowed.screenshot = path.join(args.out, "screenshot.png");

// Without CORS for the page's origin every call fails as fetch() fails.
function verifyRefused(url, { shown, consoleErrors }) {
  const failed = "error: [unknown] Failed to fetch";
  check("what the page shows", shown, {
    origin: pageOrigin,
    server: url,
    "say-post-method": "POST",
    "say-post": failed,
    "say-get-method": "GET",
    "say-get": failed,
    introduce: [],
    "introduce-end": failed,
    "error-code": "unknown",
    "error-message": "Failed to fetch",
    "error-details": [],
    "grpcweb-say": failed,
    "grpcweb-error-code": "unknown",
    "grpcweb-error-message": "Failed to fetch",
    "grpcweb-error-details": [],
    status: "done",
  });
  const blocked = consoleErrors.filter((m) =>
    m.includes(`from origin '${pageOrigin}' has been blocked by CORS policy`),
  );
  check("calls Chromium blocked by CORS policy", blocked.length, 6);
}

try {
  await scenario(`CORS allowing ${pageOrigin}`, ["--cors-origin", pageOrigin], verifyAllowed);
  await scenario("CORS off", [], verifyRefused);
  await scenario("CORS allowing only http://localhost:1", ["--cors-origin", "http://localhost:1"],
    verifyRefused);
} catch (e) {
  failures++;
  console.log(`  FAIL  ${e.stack ?? e}`);
} finally {
  await browser.close();
  site.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(failures ? `\nbrowser test: ${failures} FAILED` : "\nbrowser test: all passed");
process.exit(failures ? 1 : 0);
