// pricewatch web UI: local times, auto-refresh, client-side sort of the columns the server
// cannot sort, chart hover values and range switching. Every page works without this file.
"use strict";

function localTimes(root) {
  const fmt = new Intl.DateTimeFormat(undefined, {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  const day = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
  for (const el of root.querySelectorAll("time[datetime]")) {
    const when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when)) {
      el.title = el.textContent;
      el.textContent = (el.classList.contains("date") ? day : fmt).format(when);
    }
  }
}

function axisTimes(root) {
  // The chart's time axis, labelled in UTC by the server, in the viewer's time zone.
  const formats = {
    time: new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" }),
    datetime: new Intl.DateTimeFormat(undefined, {
      month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }),
    date: new Intl.DateTimeFormat(undefined, { dateStyle: "medium" }),
  };
  for (const el of root.querySelectorAll("text.xlab[data-t]")) {
    const format = formats[el.dataset.kind];
    if (format) el.textContent = format.format(new Date(Number(el.dataset.t) * 1000));
  }
}

function autoRefresh() {
  const seconds = Number(document.body.dataset.refresh || 0);
  if (!seconds) return;
  let due = Date.now() + seconds * 1000;
  setInterval(() => {
    // Not while the tab is hidden or the user is typing in the filters.
    if (document.hidden || document.activeElement?.closest("form")) return;
    if (Date.now() >= due) location.reload();
  }, 1000);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && Date.now() >= due) due = Date.now();
  });
}

function clientSort() {
  const table = document.getElementById("overview");
  if (!table) return;
  for (const th of table.querySelectorAll("th[data-sort]")) {
    let desc = false;
    th.title = "sort this page";
    th.addEventListener("click", () => {
      const key = th.dataset.sort;
      const groups = [...table.querySelectorAll("tbody.product")];
      const value = (g) => (g.dataset[key] === "" ? null : Number(g.dataset[key]));
      groups.sort((a, b) => {
        const x = value(a), y = value(b);
        if (x === null) return y === null ? 0 : 1;
        if (y === null) return -1;
        return desc ? y - x : x - y;
      });
      for (const g of groups) table.appendChild(g);
      for (const other of table.querySelectorAll("th[data-sort]")) other.removeAttribute("aria-sort");
      th.setAttribute("aria-sort", desc ? "descending" : "ascending");
      desc = !desc;
    });
  }
}

function hover(figure) {
  const svg = figure.querySelector("svg.chart");
  const data = JSON.parse(figure.querySelector("script.chart-data").textContent);
  const out = figure.querySelector("output.hover");
  const guide = svg.querySelector(".guide");
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  function at(t) {
    const lines = [];
    for (const line of data.lines) {
      let found = null;
      for (const p of line.points) { if (p[0] <= t) found = p; else break; }
      if (found) lines.push(`${line.store}: ${found[1]} ${data.currency}`);
    }
    return lines;
  }
  function move(event) {
    const box = svg.getBoundingClientRect();
    const x = (event.clientX - box.left) / box.width * data.width;
    if (x < data.left || x > data.right) { leave(); return; }
    const t = data.t0 + (x - data.left) / (data.right - data.left) * (data.t1 - data.t0);
    const lines = at(t);
    if (!lines.length) { leave(); return; }
    guide.setAttribute("x1", x); guide.setAttribute("x2", x);
    guide.setAttribute("visibility", "visible");
    out.textContent = fmt.format(new Date(t * 1000)) + "\n" + lines.join("\n");
    out.hidden = false;
  }
  function leave() { out.hidden = true; guide.setAttribute("visibility", "hidden"); }
  svg.addEventListener("pointermove", move);
  svg.addEventListener("pointerdown", move);
  svg.addEventListener("pointerleave", leave);
}

function charts(root) {
  for (const figure of root.querySelectorAll("figure.panel")) hover(figure);
}

function ranges() {
  const section = document.getElementById("chart");
  if (!section) return;
  section.addEventListener("click", async (event) => {
    const link = event.target.closest("a[data-range]");
    if (!link) return;
    event.preventDefault();
    const range = link.dataset.range;
    const url = `/products/${encodeURIComponent(section.dataset.product)}/chart?range=${encodeURIComponent(range)}`;
    try {
      const response = await fetch(url, { headers: { Accept: "text/html" } });
      if (!response.ok) throw new Error(response.status);
      section.innerHTML = await response.text();
      localTimes(section);
      axisTimes(section);
      charts(section);
      history.replaceState(null, "", `?range=${encodeURIComponent(range)}`);
    } catch (err) {
      location.href = link.href;  // the plain link still works
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  axisTimes(document);
  autoRefresh();
  clientSort();
  charts(document);
  ranges();
});
