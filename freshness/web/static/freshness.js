// freshness: the little the pages do with JavaScript (everything works without it).
"use strict";

// A form with data-busy disables its submit button while the photos upload and are
// analysed, and says so (a check-in takes a few seconds per photo).
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-busy")) return;
  var button = form.querySelector("button[type=submit]");
  if (button) {
    // disabled once the browser has collected the form data
    window.setTimeout(function () { button.disabled = true; }, 0);
  }
  var status = form.querySelector(".busy");
  if (status) status.textContent = form.getAttribute("data-busy");
});

// On a narrow screen the chart scrolls sideways: start with its latest check-ins in view
// (data-latest: where the plot area ends, as a fraction of the drawing's width).
function showLatest(box) {
  var latest = parseFloat(box.getAttribute("data-latest"));
  if (!(latest > 0) || box.scrollWidth <= box.clientWidth) return;
  box.scrollLeft = Math.max(0, box.scrollWidth * latest - box.clientWidth + 16);
}
document.querySelectorAll(".chart[data-latest]").forEach(function (box) {
  var img = box.querySelector("img");
  if (!img || img.complete) showLatest(box);
  else img.addEventListener("load", function () { showLatest(box); });
});

// The selfies beside a headshot, oldest first: start with the newest in view.
document.querySelectorAll(".selfies").forEach(function (row) {
  row.scrollLeft = row.scrollWidth;
});
