// Real-browser test of the `dist-softmax serve` dashboard: Debian's headless Chromium driven by puppeteer-core.
// The service, its workers and a running job are started by the caller (tests/DistSoftmax.Cli.Tests/
// DashboardBrowserTests.cs); this script opens the dashboard at 1280×800 and checks what a user sees:
//   1. the cluster members, with at least --workers members in the `worker` role whose status is Up;
//   2. the job --job in the job list; selected, its convergence chart updates while it runs (the number of plotted
//      gradient-norm points grows between two reads) and its shard owners are listed;
//   3. with --cancel-job ID (a job queued behind --job): pressing Cancel job on it shows it cancelled;
//      then --job's final state --final, its report fields and its convergence.png (loaded, non-empty);
//      with --stopped-job ID (a job that reaches its iteration limit): selected, it shows "stopped (max-iterations)",
//      in its details and in the job list, with its report;
//   4. text from the server shown as text: no element or script made from it (the caller puts markup in a path);
//   5. no script error on the page, and no failed request to the API.
// With --markup TEXT the job's specification must show TEXT literally (the caller puts it in the input path).
// With --screenshot FILE it saves a 1280×800 screenshot while the job runs (the README's docs/dashboard.png).
// Prints one line "dashboard ok: …" and exits 0, or one line "dashboard test failed: <why>" and exits 1.
//
//   node dashboard.test.mjs --url http://127.0.0.1:8080/ --job ID --workers 2 --final succeeded [--markup TEXT] [--cancel-job ID]
//                           [--stopped-job ID] [--screenshot FILE]
//                           [--chromium /usr/bin/chromium] [--timeout-seconds 120]
import puppeteer from "puppeteer-core";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    job: { type: "string" },
    workers: { type: "string", default: "2" },
    final: { type: "string", default: "succeeded" },
    screenshot: { type: "string" },
    markup: { type: "string" },
    "cancel-job": { type: "string" },
    "stopped-job": { type: "string" },
    chromium: { type: "string", default: process.env.CHROMIUM ?? "/usr/bin/chromium" },
    "timeout-seconds": { type: "string", default: "120" },
  },
});

/** The window of the README screenshot and of the layout the dashboard is designed for. */
const VIEWPORT = { width: 1280, height: 800 };
/** Milliseconds between the two reads of the chart that must show more points. */
const CHART_GAP_MS = 1500;
/** Iterations on the chart before the screenshot is taken (the job still running: about a tenth of it). */
const SCREENSHOT_ENTRIES = 80;

function fail(message) {
  console.log("dashboard test failed: " + message);
  process.exit(1);
}

for (const required of ["url", "job"]) if (!args[required]) fail("--" + required + " is required");
const timeoutMs = Number(args["timeout-seconds"]) * 1000;
const workers = Number(args.workers);
if (!(timeoutMs > 0) || !Number.isInteger(workers) || workers < 1) fail("--timeout-seconds and --workers must be positive numbers");

const problems = [];
let browser;
try {
  browser = await puppeteer.launch({
    executablePath: args.chromium,
    headless: true,
    // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800"],
  });
} catch (e) {
  fail("cannot start Chromium at " + args.chromium + ": " + e.message.split("\n")[0]);
}

try {
  const page = await browser.newPage();
  await page.setViewport(VIEWPORT);
  page.setDefaultTimeout(timeoutMs);
  page.on("pageerror", (e) => problems.push("script error: " + e.message.split("\n")[0]));
  page.on("console", (m) => { if (m.type() === "error") problems.push("console error: " + m.text()); });
  page.on("response", (r) => {
    // A 404 of an unknown file is a valid answer elsewhere; on the dashboard's own calls every answer must succeed.
    if (r.status() >= 400) problems.push("HTTP " + r.status() + " for " + r.url());
  });

  const response = await page.goto(args.url, { waitUntil: "domcontentloaded" });
  if (!response || !response.ok()) throw new Error("GET " + args.url + " answered " + (response ? response.status() : "nothing"));
  const title = await page.title();
  if (!title.includes("DistSoftmax")) throw new Error("the page at " + args.url + " is not the dashboard (title " + JSON.stringify(title) + ")");

  // 1. Members: the service (coordinator) and the workers, all Up.
  await page.waitForFunction((n) => {
    const rows = [...document.querySelectorAll("#members tbody tr")];
    return rows.filter((r) => r.cells[1].textContent.includes("worker") && /^up$/i.test(r.cells[2].textContent.trim())).length >= n;
  }, {}, workers).catch(() => { throw new Error("the members table did not show " + workers + " workers Up"); });
  const members = await page.$$eval("#members tbody tr", (rows) => rows.map((r) => ({
    address: r.cells[0].textContent, roles: r.cells[1].textContent, status: r.cells[2].textContent, cores: r.cells[3].textContent,
  })));
  if (!members.some((m) => m.roles.includes("coordinator"))) throw new Error("no member with the coordinator role: " + JSON.stringify(members));

  // 2. The job in the list; select it through its button, as a user would.
  /** Selects a job as a user does: its button in the job list; then waits for the details to show it. */
  async function selectJob(id) {
    for (let attempt = 1; ; attempt++) {
      const pick = await page.waitForFunction((id) =>
        [...document.querySelectorAll("#jobs tbody tr")].find((r) => r.dataset.jobId === id)?.querySelector("button"), {}, id)
        .catch(() => { throw new Error("job " + id + " is not in the job list"); });
      try {
        await pick.asElement().click();
        break;
      } catch (e) {
        // The job list is re-rendered on every poll: a row replaced between finding its button and clicking it leaves
        // the handle detached ("Node is detached from document") or, caught mid-render, without a box to click ("Node
        // is either not clickable or not an Element"). Find the button again; anything else is a failure.
        const replaced = ["detached", "not clickable"].some((m) => String(e?.message).includes(m));
        if (attempt >= 5 || !replaced) throw e;
      }
    }
    await page.waitForFunction((id) => document.getElementById("job-id").textContent === id, {}, id);
  }
  await selectJob(args.job);

  // The chart grows while the job runs: points now, more points CHART_GAP_MS later, the job still running.
  const read = () => page.$eval("#chart", (c) => ({
    entries: Number(c.dataset.entries),
    grad: Number(c.querySelector("polyline.series-grad")?.dataset.count ?? 0),
    state: document.getElementById("job-state").textContent.trim(),
  }));
  await page.waitForFunction(() => Number(document.querySelector("#chart polyline.series-grad")?.dataset.count ?? 0) >= 2)
    .catch(() => { throw new Error("the chart never showed two gradient-norm points"); });
  const first = await read();
  if (["succeeded", "stopped", "failed", "cancelled"].includes(first.state))
    throw new Error(`the job ended (${first.state}, ${first.grad} points) before the chart could be watched growing: make it longer`);
  await new Promise((r) => setTimeout(r, CHART_GAP_MS));
  await page.waitForFunction((n) => Number(document.querySelector("#chart polyline.series-grad")?.dataset.count ?? 0) > n,
    { timeout: 30_000 }, first.grad)
    .catch(() => { throw new Error("the chart did not update: " + first.grad + " points, then no more"); });
  const second = await read();
  if (first.state !== "running") throw new Error("the job was " + first.state + ", not running, at the first read of the chart");
  if (!(second.entries > first.entries)) throw new Error("trace entries did not grow: " + first.entries + " then " + second.entries);

  // Workers report their cores when they register with a job: by now, with the job running, every worker has.
  await page.waitForFunction(() => [...document.querySelectorAll("#members tbody tr")]
    .filter((r) => r.cells[1].textContent.includes("worker")).every((r) => /^\d+$/.test(r.cells[3].textContent.trim())))
    .catch(() => { throw new Error("a worker's core count was not shown"); });

  // Shard owners of the running job: every shard with a member's address.
  await page.waitForFunction(() => document.querySelectorAll("#shards tbody tr").length > 0)
    .catch(() => { throw new Error("no shard owners were shown for the running job"); });
  const owners = await page.$$eval("#shards tbody tr", (rows) => rows.map((r) => r.cells[2].textContent));
  const addresses = new Set(members.map((m) => m.address.replace(" (this service)", "")));
  if (!owners.every((o) => addresses.has(o))) throw new Error("a shard owner is not a listed member: " + JSON.stringify(owners));

  if (args.screenshot) {
    // A picture worth showing: wait (a bounded time) for a chart of some length, then take it, running or not.
    await page.waitForFunction((n) => Number(document.getElementById("chart").dataset.entries) >= n, { timeout: 60_000 },
      SCREENSHOT_ENTRIES).catch(() => {});
    await page.screenshot({ path: args.screenshot, type: "png" });
  }

  // With --cancel-job: that job waits in the queue behind --job; the user selects it and presses Cancel job, the page
  // shows it cancelled with the button disabled; then back to --job.
  if (args["cancel-job"]) {
    await selectJob(args["cancel-job"]);
    // Queued behind --job; running if --job has ended meanwhile (a fast machine): either can be cancelled.
    await page.waitForFunction(() => ["queued", "running"].includes(document.getElementById("job-state").textContent.trim()) &&
      !document.getElementById("cancel").disabled)
      .catch(() => { throw new Error("job " + args["cancel-job"] + " was not shown queued or running with Cancel job enabled"); });
    await page.click("#cancel");
    await page.waitForFunction(() => document.getElementById("job-state").textContent.trim() === "cancelled" &&
      document.getElementById("cancel").disabled, { timeout: 30_000 })
      .catch(() => { throw new Error("pressing Cancel job did not show job " + args["cancel-job"] + " cancelled"); });
    await page.waitForFunction((id) => [...document.querySelectorAll("#jobs tbody tr")]
      .find((r) => r.dataset.jobId === id)?.cells[1].textContent.trim() === "cancelled", { timeout: 30_000 }, args["cancel-job"])
      .catch(() => { throw new Error("the job list did not show job " + args["cancel-job"] + " cancelled"); });
    await selectJob(args.job);
  }

  // 3. The final state, the report and the plot.
  await page.waitForFunction((s) => document.getElementById("job-state").textContent.trim() === s, {}, args.final)
    .catch(async () => {
      const now = await page.$eval("#job-state", (e) => e.textContent).catch(() => "?");
      throw new Error("the job did not end " + args.final + " (shown: " + now + ")");
    });
  await page.waitForFunction(() => document.querySelectorAll("#report dt").length >= 5)
    .catch(() => { throw new Error("the report fields were not shown"); });
  const report = await page.$$eval("#report dt", (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
  for (const key of ["solver", "exit", "iterations", "final loss"])
    if (!(key in report)) throw new Error("the report lacks " + key + ": " + JSON.stringify(report));
  await page.waitForFunction(() => { const img = document.getElementById("plot"); return img.complete && img.naturalWidth > 0; })
    .catch(() => { throw new Error("convergence.png was not shown"); });
  const final = await read();
  if (final.grad < second.grad) throw new Error("the final chart has fewer points than the running one");

  // With --stopped-job: a solve that reached its iteration limit ran and wrote its files; it is shown stopped, with the
  // condition, not failed.
  if (args["stopped-job"]) {
    const STOPPED = "stopped (max-iterations)";
    await selectJob(args["stopped-job"]);
    await page.waitForFunction((s) => document.getElementById("job-state").textContent.trim() === s &&
      document.querySelector("#job-state .state-stopped") !== null && document.getElementById("cancel").disabled, {}, STOPPED)
      .catch(async () => {
        const now = await page.$eval("#job-state", (e) => e.textContent).catch(() => "?");
        throw new Error("job " + args["stopped-job"] + " was not shown " + STOPPED + " (shown: " + now + ")");
      });
    await page.waitForFunction((id, s) => [...document.querySelectorAll("#jobs tbody tr")]
      .find((r) => r.dataset.jobId === id)?.cells[1].textContent.trim() === s, { timeout: 30_000 }, args["stopped-job"], STOPPED)
      .catch(() => { throw new Error("the job list did not show job " + args["stopped-job"] + " " + STOPPED); });
    await page.waitForFunction(() => [...document.querySelectorAll("#report dt")].some((dt) => dt.textContent === "exit" &&
      dt.nextElementSibling.textContent.startsWith("max-iterations")))
      .catch(() => { throw new Error("the stopped job's report did not show its exit max-iterations"); });
  }

  // 4. Server strings stayed text: the caller puts markup in the job's input path (shown in the specification and in
  //    the members' cached sources); had any of it been parsed as HTML there would be an <img> beside the plot and its
  //    onerror handler would have set window.xss.
  const injected = await page.evaluate(() => ({
    xss: window.xss !== undefined,
    images: [...document.images].filter((i) => i.id !== "plot").length,
    spec: document.getElementById("spec").textContent,
  }));
  if (injected.xss || injected.images > 0) throw new Error("markup from the server was rendered as HTML");
  if (args.markup && !injected.spec.includes(args.markup))
    throw new Error("the specification does not show " + JSON.stringify(args.markup) + " as text: " + JSON.stringify(injected.spec));

  // 5. Nothing went wrong on the page.
  if (problems.length > 0) throw new Error(problems.join("; "));
  console.log(`dashboard ok: ${members.length} members, chart ${first.grad} → ${second.grad} → ${final.grad} points, ` +
    `${owners.length} shards, report exit ${report.exit}, ${report.iterations} iterations`);
  await browser.close();
  process.exit(0);
} catch (e) {
  await browser.close().catch(() => {});
  // What the page reported (script errors, failed requests) is usually the reason a wait timed out.
  fail(e.message.split("\n")[0] + (problems.length > 0 ? " (page: " + problems.join("; ") + ")" : ""));
}
