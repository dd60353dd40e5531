// The console's only script, loaded with `defer` (no inline script: the CSP forbids it). Nothing
// depends on it: without it the live calls page reloads itself and a secret is selectable text.
"use strict";

// The copy button of a secret shown once.
for (const button of document.querySelectorAll("button.copy[data-copy]")) {
  const source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    await navigator.clipboard.writeText(source.textContent.trim());
    button.textContent = "Copied";
  });
}

// The live calls: new rows from the server's event stream, newest first (each event's data is
// a table row rendered and escaped by the server).
const live = document.getElementById("live");
const body = document.getElementById("calls-body");
if (live && body && window.EventSource) {
  const stream = new EventSource(live.dataset.stream);
  stream.addEventListener("call", (event) => {
    const rows = document.createElement("tbody");
    rows.innerHTML = event.data;
    const row = rows.firstElementChild;
    if (!row) return;
    body.prepend(row);
    document.getElementById("calls-empty")?.remove();
    while (body.children.length > 200) body.lastElementChild.remove();
  });
  // The session ended (signed out, idle, expired, or its administrator removed): stop listening,
  // and reload, which leads to the sign-in page.
  stream.addEventListener("end", () => {
    stream.close();
    window.location.reload();
  });
}
