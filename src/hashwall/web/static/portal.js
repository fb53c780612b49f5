// portal.js: the submission page. Files are read and hashed in a Web Worker on this device;
// thumbnails are object URLs that never leave it. The only request with a body is the POST of
// the JSON shown in #payload, byte for byte.

import { hashFilesInWorker } from "./hashwall-hash.js";
import { postJson, registerOffline, showError } from "./portal-common.js";

const form = document.getElementById("portal-form");
const filesInput = document.getElementById("files");
const itemsList = document.getElementById("items");
const progress = document.getElementById("hash-progress");
const payloadView = document.getElementById("payload");
const includeNames = document.getElementById("include-names");
const consent = document.getElementById("consent");
const sendButton = document.getElementById("send");
const errorBox = document.getElementById("error");
const QUESTIONS = { adult: "under18", depicted: "not-depicted", intimate: "not-intimate" };

/** Hashed items: {id, name, record, url} (url: local object URL for the preview). */
let items = [];
let nextId = 0;
let hashing = 0;
let payloadText = "";

function answers() {
  const out = {};
  for (const name of Object.keys(QUESTIONS)) {
    out[name] = form.querySelector(`input[name=${name}]:checked`)?.value ?? null;
  }
  return out;
}

function eligible() {
  return Object.values(answers()).every((value) => value === "yes");
}

function buildPayload() {
  const records = items.map(({ record }) => {
    const copy = { ...record };
    if (!includeNames.checked) delete copy.path;
    return copy;
  });
  return {
    records,
    adult: true,
    depicted: true,
    intimate: true,
    consent: consent.checked,
    include_names: includeNames.checked,
  };
}

function refresh() {
  const given = answers();
  for (const [name, noteId] of Object.entries(QUESTIONS)) {
    document.getElementById(noteId).hidden = given[name] !== "no";
  }
  const ok = eligible();
  document.getElementById("pick").hidden = !ok;
  document.getElementById("review").hidden = !ok || items.length === 0;
  payloadText = JSON.stringify(buildPayload(), null, 2);
  payloadView.textContent = payloadText;
  sendButton.disabled = !(ok && items.length > 0 && consent.checked && hashing === 0);
}

function renderItem(item, file, error) {
  const li = document.createElement("li");
  li.className = error ? "item failed" : "item";
  if (item?.url) {
    const img = document.createElement("img");
    img.src = item.url;
    img.alt = `Preview of ${file.name} (only on this device)`;
    li.append(img);
  } else {
    const icon = document.createElement("span");
    icon.className = "thumb-placeholder";
    icon.textContent = file.type.startsWith("video/") ? "Video" : "File";
    icon.setAttribute("aria-hidden", "true");
    li.append(icon);
  }
  const text = document.createElement("span");
  text.className = "item-text";
  text.textContent = error ? `${file.name}: ${error}` : `${file.name}: fingerprint ready`;
  li.append(text);
  if (item) {
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "small";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove ${file.name}`);
    remove.addEventListener("click", () => {
      items = items.filter((other) => other.id !== item.id);
      if (item.url) URL.revokeObjectURL(item.url);
      li.remove();
      refresh();
    });
    li.append(remove);
  }
  itemsList.append(li);
}

async function addFiles(fileList) {
  const files = Array.from(fileList);
  if (files.length === 0) return;
  hashing += files.length;
  document.body.dataset.state = "hashing";
  showError(errorBox, "");
  progress.textContent = `Fingerprinting ${files.length} file(s) on this device…`;
  refresh();
  await hashFilesInWorker(files, {
    onProgress: ({ file, done, total }) => {
      // Videos are sampled once a second on this device; say how far it got.
      progress.textContent = `Fingerprinting ${file.name}: frame ${done} of ${total}…`;
    },
    onResult: ({ file, record, error }) => {
      hashing -= 1;
      if (record) {
        const isPhoto = record.content_type === "photo";
        const item = { id: nextId++, record, url: isPhoto ? URL.createObjectURL(file) : null };
        items.push(item);
        renderItem(item, file, null);
      } else {
        renderItem(null, file, error ?? "could not be read");
      }
      progress.textContent = hashing ? `${hashing} left…` : `${items.length} fingerprint(s) ready.`;
      refresh();
    },
  });
  document.body.dataset.state = "ready";
  refresh();
}

async function send(event) {
  event.preventDefault();
  refresh();
  if (sendButton.disabled) return;
  sendButton.disabled = true;
  document.body.dataset.state = "sending";
  const result = await postJson("/v1/portal/cases", payloadText);
  if (!result.ok) {
    showError(errorBox, result.message);
    document.body.dataset.state = "ready";
    refresh();
    return;
  }
  showError(errorBox, "");
  document.getElementById("case-number").textContent = result.body.case_number;
  document.getElementById("case-pin").textContent = result.body.pin;
  const count = result.body.entries;
  document.getElementById("case-count").textContent =
    `${count} fingerprint${count === 1 ? "" : "s"} added. Platforms can match them from now on.`;
  for (const item of items) if (item.url) URL.revokeObjectURL(item.url);
  items = [];
  form.hidden = true;
  document.getElementById("done").hidden = false;
  document.body.dataset.state = "done";
}

form.addEventListener("change", (event) => {
  if (event.target === filesInput) {
    addFiles(filesInput.files).finally(() => {
      filesInput.value = "";
    });
  }
  refresh();
});
form.addEventListener("submit", send);
refresh();
registerOffline();
document.body.dataset.state = "ready";
