// Reloads the page when the time in [data-reload-at] comes (the lesson room opening), so what
// changes then shows without a manual refresh.
(function () {
  "use strict";
  var element = document.querySelector("[data-reload-at]");
  if (!element) { return; }
  var wait = Date.parse(element.getAttribute("data-reload-at")) - Date.now();
  // setTimeout cannot wait longer than 2^31 - 1 ms (about 24 days).
  if (wait < 2147483647) {
    setTimeout(function () { location.reload(); }, Math.max(0, wait) + 500);
  }
})();
