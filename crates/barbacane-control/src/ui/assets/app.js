// Barbacane UI: progressive enhancement only. Without this file every page and form works;
// with it, times show in the viewer's zone (UTC stays in the title) and regions marked
// data-live refresh themselves every few seconds.
"use strict";

function localTimes(root) {
  for (const el of root.querySelectorAll("time[datetime]")) {
    const at = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(at.getTime())) continue;
    el.textContent = at.toLocaleString(undefined, {
      year: "numeric", month: "short", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
    });
  }
}

// Re-fetches the page and swaps each [data-live] region for the new one. The server's HTML
// is parsed by DOMParser (scripts in it never run) and the CSP forbids inline code anyway.
// Polls carry X-Barbacane-Poll so they do not extend the session; when the session is gone
// (401) or the region disappears, polling stops.
function live() {
  const regions = document.querySelectorAll("[data-live]");
  if (regions.length === 0) return;
  const every = Math.max(2, Number(regions[0].getAttribute("data-live")) || 5) * 1000;
  const status = document.getElementById("live-status");
  async function tick() {
    if (document.hidden) return schedule();
    // Never replace a region while someone types or has focus in it.
    const active = document.activeElement;
    try {
      const response = await fetch(location.href, {
        headers: { "X-Barbacane-Poll": "1" }, credentials: "same-origin", redirect: "error",
      });
      if (!response.ok) { if (status) status.textContent = "Live updates stopped: sign in again."; return; }
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const region of document.querySelectorAll("[data-live]")) {
        if (active && region.contains(active) && active.matches("input, textarea, select")) continue;
        const fresh = doc.getElementById(region.id);
        if (!fresh) continue;
        region.replaceWith(document.importNode(fresh, true));
      }
      localTimes(document);
      if (status) status.textContent = "Live: updated " + new Date().toLocaleTimeString();
    } catch (e) {
      if (status) status.textContent = "Live updates paused: the control plane did not answer.";
    }
    schedule();
  }
  function schedule() { setTimeout(tick, every); }
  schedule();
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  live();
});
