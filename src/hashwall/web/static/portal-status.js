// portal-status.js: open a case with its number and PIN (sent in a POST body, never in the
// URL, never stored on this device), show its counts, and withdraw it.

import { postJson, registerOffline, showError } from "./portal-common.js";

const form = document.getElementById("status-form");
const errorBox = document.getElementById("error");
const result = document.getElementById("result");
const confirmBox = document.getElementById("confirm-box");

function credentials() {
  return JSON.stringify({
    case_number: document.getElementById("case-number").value.trim(),
    pin: document.getElementById("pin").value.trim(),
  });
}

function show(status) {
  const set = (id, value) => {
    document.getElementById(id).textContent = String(value);
  };
  set("result-number", status.case_number);
  set(
    "result-state",
    status.state === "withdrawn"
      ? "This case is withdrawn: its fingerprints no longer match anything."
      : status.matching
        ? "This case is active: platforms are matching its fingerprints."
        : "This case is on hold: the service is not matching its fingerprints at the moment. " +
          "Nothing was deleted; check again later.",
  );
  set("count-total", status.entries.total);
  set("count-active", status.entries.active);
  set("count-withdrawn", status.entries.withdrawn);
  set("count-matches", status.matches);
  set("count-removals", status.removals);
  const body = document.querySelector("#platforms tbody");
  body.replaceChildren();
  for (const row of status.platforms) {
    const tr = document.createElement("tr");
    for (const value of [row.platform, row.bank, row.matches, row.removals]) {
      const td = document.createElement("td");
      td.textContent = String(value);
      tr.append(td);
    }
    body.append(tr);
  }
  if (status.platforms.length === 0) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 4;
    td.textContent = "No copies found so far.";
    tr.append(td);
    body.append(tr);
  }
  document.getElementById("withdraw-box").hidden = status.state === "withdrawn";
  confirmBox.hidden = true;
  result.hidden = false;
  document.body.dataset.state = status.state;
}

async function call(url) {
  document.body.dataset.state = "busy";
  const answer = await postJson(url, credentials());
  if (!answer.ok) {
    showError(errorBox, answer.message);
    result.hidden = true;
    document.body.dataset.state = `error-${answer.status}`;
    return;
  }
  showError(errorBox, "");
  show(answer.body);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  call("/v1/portal/cases/status");
});
document.getElementById("withdraw").addEventListener("click", () => {
  confirmBox.hidden = false;
});
document.getElementById("withdraw-cancel").addEventListener("click", () => {
  confirmBox.hidden = true;
});
document.getElementById("withdraw-confirm").addEventListener("click", () => {
  call("/v1/portal/cases/withdraw");
});
registerOffline();
document.body.dataset.state = "ready";
