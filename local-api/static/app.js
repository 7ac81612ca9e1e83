// The multipart upload flow in a browser, no build step: initialize, part URLs in batches, parts
// PUT straight to storage in parallel (XMLHttpRequest, for upload progress), 403 -> a fresh URL,
// other failures retried with backoff, complete without parts, then GET /status.
// A reload resumes: the upload id is kept in localStorage and GET /parts says what storage holds.
"use strict";

const API = "/api/v1/multipart-upload";
const URLS_PER_BATCH = 20;
const MAX_TRIES = 6;

const $ = (id) => document.getElementById(id);
let current = null; // { uploadId, aborted, xhrs }

function log(text) {
  const line = `${new Date().toLocaleTimeString()}  ${text}\n`;
  $("log").textContent += line;
  $("log").scrollTop = $("log").scrollHeight;
}

function human(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
  return `${bytes.toFixed(i ? 1 : 0)} ${units[i]}`;
}

async function call(user, method, path, body) {
  const headers = { "x-user-id": user };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(API + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const err = answer.error || {};
    const error = new Error(`${path}: ${response.status} ${err.code || ""} ${err.message || ""}`);
    error.status = response.status;
    error.code = err.code;
    throw error;
  }
  return answer;
}

// One PUT of a part; resolves with the status (0: no answer) and the ETag the page can read.
function put(url, headers, blob, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    current.xhrs.add(xhr);
    xhr.open("PUT", url);
    xhr.setRequestHeader("content-type", "application/octet-stream");
    // `headers` includes the signed content-length: the browser sends it from the blob by itself
    // and refuses to let a page set it, so every header but that one is copied.
    for (const [name, value] of Object.entries(headers || {})) {
      if (name.toLowerCase() !== "content-length") xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    const done = (status) => {
      current.xhrs.delete(xhr);
      resolve({ status, etag: status ? xhr.getResponseHeader("ETag") : null, text: xhr.responseText || "" });
    };
    xhr.onload = () => done(xhr.status);
    xhr.onerror = () => done(0);
    xhr.onabort = () => done(0);
    xhr.send(blob);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Exponential backoff with jitter: half fixed, half random.
const backoff = (tries) => { const full = Math.min(500 * 2 ** (tries - 1), 15000); return full / 2 + Math.random() * full / 2; };

function setOutcome(text, cls) {
  $("outcome").textContent = text;
  $("outcome").className = cls || "";
  $("outcome").dataset.status = cls || "";
}

async function upload() {
  const file = $("file").files[0];
  const user = $("user").value.trim();
  if (!file) { setOutcome("Pick a file first.", "FAILED"); return; }
  if (!user) { setOutcome("Enter a user id.", "FAILED"); return; }
  const concurrency = Number($("concurrency").value) || 4;
  $("start").disabled = true;
  $("abort").disabled = false;
  setOutcome("Uploading...", "UPLOADING");
  $("status").textContent = "";
  current = { uploadId: null, aborted: false, xhrs: new Set() };

  const memo = `upload:${user}:${file.name}:${file.size}:${file.lastModified}`;
  let plan = null;
  const held = new Set();
  try {
    // A reload of the same file resumes the upload it started.
    const earlier = localStorage.getItem(memo);
    if (earlier) {
      try {
        const status = await call(user, "GET", `/status/${earlier}`);
        if (status.status === "INITIATED") {
          const listed = await call(user, "GET", `/parts/${earlier}`);
          plan = { uploadId: earlier, chunkSize: status.chunkSize, totalParts: status.totalParts };
          for (const p of listed.parts) held.add(p.PartNumber);
          log(`resuming ${earlier}: storage holds ${held.size} of ${plan.totalParts} parts`);
        }
      } catch (e) { log(`not resuming ${earlier}: ${e.message}`); }
    }
    if (!plan) {
      plan = await call(user, "POST", "/initialize", {
        fileName: file.name, fileType: file.type || "application/octet-stream", fileSize: file.size,
      });
      localStorage.setItem(memo, plan.uploadId);
      log(`initialized ${plan.uploadId}: ${plan.totalParts} parts of ${human(plan.chunkSize)}`);
    }
    current.uploadId = plan.uploadId;
    await sendParts(user, file, plan, held, concurrency);
    if (current.aborted) return;
    log("all parts stored; completing without parts (the server reads them from storage)");
    await call(user, "POST", "/complete", { uploadId: plan.uploadId });
    localStorage.removeItem(memo);
    const status = await call(user, "GET", `/status/${plan.uploadId}`);
    $("status").textContent = JSON.stringify(status, null, 2);
    setOutcome(status.status, status.status);
    log(`status: ${status.status}`);
  } catch (e) {
    if (!current.aborted) {
      log(`failed: ${e.message}`);
      setOutcome(`Failed: ${e.message}`, "FAILED");
    }
  } finally {
    $("start").disabled = false;
    $("abort").disabled = true;
  }
}

async function sendParts(user, file, plan, held, concurrency) {
  const { uploadId, chunkSize, totalParts } = plan;
  const size = (n) => Math.min(chunkSize, file.size - (n - 1) * chunkSize);
  const sent = new Map(); // part -> bytes sent so far (stored parts: all of them)
  for (const n of held) sent.set(n, size(n));
  const started = performance.now();
  const heldBytes = [...held].reduce((sum, n) => sum + size(n), 0);

  const tbody = $("parts").querySelector("tbody");
  tbody.textContent = "";
  const rows = new Map();
  if (totalParts <= 500) {
    for (let n = 1; n <= totalParts; n++) {
      const row = document.createElement("tr");
      row.innerHTML = `<td>${n}</td><td>${human(size(n))}</td><td class="bar"><progress max="1" value="0"></progress></td><td class="state">waiting</td><td class="etag"></td>`;
      tbody.appendChild(row);
      rows.set(n, row);
    }
    $("parts").hidden = false;
  }
  const show = (n, state, fraction, etag) => {
    const row = rows.get(n);
    if (!row) return;
    row.className = state.split(" ")[0];
    row.querySelector(".state").textContent = state;
    if (fraction !== undefined) row.querySelector("progress").value = fraction;
    if (etag) row.querySelector(".etag").textContent = etag;
  };
  for (const n of held) show(n, "stored earlier", 1);
  const overall = () => {
    let total = 0;
    for (const v of sent.values()) total += v;
    const secs = (performance.now() - started) / 1000;
    const rate = secs > 0 ? (total - heldBytes) / secs : 0;
    const eta = rate > 0 ? Math.round((file.size - total) / rate) : 0;
    $("overall").value = total / file.size;
    $("overall-text").textContent =
      `${human(total)} of ${human(file.size)} (${Math.floor(100 * total / file.size)}%), ${human(rate)}/s, ETA ${eta}s`;
  };
  overall();

  // URLs in batches, one request per batch shared by the workers, the next asked for ahead of need.
  const batches = new Map();
  const batchOf = (n) => Math.floor((n - 1) / URLS_PER_BATCH);
  const fetchBatch = (b) => {
    if (!batches.has(b)) {
      const start = b * URLS_PER_BATCH + 1;
      const end = Math.min(start + URLS_PER_BATCH - 1, totalParts);
      const p = call(user, "POST", "/batch-presigned-urls", { uploadId, startPart: start, endPart: end })
        .then((r) => new Map(r.urls.map((u) => [u.partNumber, u])));
      p.catch(() => batches.delete(b));
      batches.set(b, p);
    }
    return batches.get(b);
  };
  const urlFor = async (n) => {
    const b = batchOf(n);
    if ((n - 1) % URLS_PER_BATCH >= URLS_PER_BATCH / 2 && (b + 1) * URLS_PER_BATCH < totalParts) {
      fetchBatch(b + 1).catch(() => {});
    }
    return (await fetchBatch(b)).get(n);
  };

  const queue = [];
  for (let n = 1; n <= totalParts; n++) if (!held.has(n)) queue.push(n);

  const sendPart = async (n) => {
    const offset = (n - 1) * chunkSize;
    const blob = file.slice(offset, offset + size(n));
    let url = await urlFor(n);
    for (let tries = 1; ; tries++) {
      if (current.aborted) return;
      show(n, tries > 1 ? `uploading (try ${tries})` : "uploading", 0);
      const result = await put(url.presignedUrl, url.headers, blob, (loaded) => {
        sent.set(n, loaded);
        show(n, tries > 1 ? `uploading (try ${tries})` : "uploading", loaded / blob.size);
        overall();
      });
      if (current.aborted) return;
      if (result.status >= 200 && result.status < 300) {
        if (!result.etag) {
          // The PUT worked but the page cannot see its ETag: the bucket's CORS rule lacks
          // ExposeHeaders: ETag, which every web client that verifies parts needs.
          throw new Error(`part ${n}: storage did not expose the ETag header (bucket CORS rule needs ExposeHeaders: ETag)`);
        }
        sent.set(n, blob.size);
        show(n, "stored", 1, result.etag);
        overall();
        return;
      }
      sent.set(n, 0);
      overall();
      const why = result.status ? `storage answered ${result.status}` : "no answer (network or CORS)";
      if (tries >= MAX_TRIES || (result.status >= 400 && result.status < 500 && ![403, 408, 429].includes(result.status))) {
        show(n, "failed", 0);
        throw new Error(`part ${n} failed after ${tries} tries: ${why}`);
      }
      if (result.status === 403) {
        // Expired (or refused) URL: ask for a fresh one and go again at once.
        log(`part ${n}: ${why}; fetching a fresh URL`);
        url = await call(user, "POST", "/presigned-url", { uploadId, partNumber: n });
      } else {
        const wait = backoff(tries);
        log(`part ${n}: ${why}; try ${tries + 1} in ${(wait / 1000).toFixed(1)}s`);
        show(n, `retrying in ${(wait / 1000).toFixed(1)}s`, 0);
        await sleep(wait);
      }
    }
  };

  let failure = null;
  const worker = async () => {
    while (queue.length && !failure && !current.aborted) {
      const n = queue.shift();
      try { await sendPart(n); } catch (e) { failure = failure || e; }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length || 1) }, worker));
  if (failure) throw failure;
}

async function abort() {
  if (!current || !current.uploadId) return;
  current.aborted = true;
  for (const xhr of current.xhrs) xhr.abort();
  try {
    const user = $("user").value.trim();
    const answer = await call(user, "POST", "/abort", { uploadId: current.uploadId });
    log(`aborted ${answer.uploadId}`);
    setOutcome("ABORTED", "ABORTED");
  } catch (e) {
    log(`abort failed: ${e.message}`);
  }
}

$("start").addEventListener("click", upload);
$("abort").addEventListener("click", abort);
