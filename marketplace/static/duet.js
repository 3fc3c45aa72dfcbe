// Small progressive enhancements; every form works without them.
(function () {
  "use strict";
  // Sign-up: send the browser's IANA time zone.
  document.querySelectorAll("[data-detect-time-zone]").forEach(function (input) {
    try {
      var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (zone && (!input.value || input.value === "UTC")) { input.value = zone; }
    } catch (e) { /* keep UTC */ }
  });
  // Tutor editor: city suggestions from the offline city list.
  var city = document.querySelector("[data-city-input]");
  var cityId = document.querySelector("[data-city-id]");
  if (!city || !cityId) { return; }
  var list = document.getElementById(city.getAttribute("list"));
  var known = {};
  var timer = null;
  city.addEventListener("input", function () {
    var label = city.value;
    cityId.value = known[label] || "";
    clearTimeout(timer);
    if (label.length < 2 || known[label]) { return; }
    timer = setTimeout(function () {
      fetch("/api/v1/places/cities?q=" + encodeURIComponent(label.split(",")[0]))
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (cities) {
          list.replaceChildren();
          cities.forEach(function (c) {
            var text = c.name + ", " + c.country_code;
            known[text] = String(c.geoname_id);
            var option = document.createElement("option");
            option.value = text;
            option.label = c.name + ", " + c.country;
            list.appendChild(option);
          });
        });
    }, 200);
  });
})();
