// The search page, live: results follow the form as the student types (through the JSON API),
// and the address bar always holds the whole search so it can be shared. Without JavaScript
// the form submits to /search and the server renders the same page.
(function () {
  "use strict";
  var form = document.querySelector("[data-search-form]");
  if (!form || !window.fetch || !window.URLSearchParams) { return; }
  var labels = JSON.parse(document.getElementById("search-labels").textContent);
  var results = form.querySelector("[data-results]");
  var summary = form.querySelector("[data-summary]");
  var pager = form.querySelector("[data-pager]");
  var errorBox = form.querySelector("[data-search-error]");
  var sortSelect = form.querySelector("select[name=sort]");
  var cityInput = form.querySelector("[data-city-input]");
  var cityId = form.querySelector("[data-city-id]");
  var cityList = document.getElementById(cityInput.getAttribute("list"));
  var tzInput = form.querySelector("[data-tz]");
  var tzLabel = form.querySelector("[data-tz-label]");
  var BUCKETS = Object.keys(labels.availability || {});
  var VISIBLE = 12;
  var FORMAT_ORDER = ["online", "in_person", "studio", "student_home"];
  var page = parseInt(form.getAttribute("data-page"), 10) || 1;
  var timer = null;
  var inFlight = null;
  var knownCities = {};

  form.querySelector("[data-apply]").hidden = true;  // the form applies itself now
  if (window.matchMedia("(max-width: 40rem)").matches) {
    form.querySelector("[data-filters]").open = false;  // results first on a phone
  }

  function params() {
    var out = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      var blank = String(value).trim() === "" || (key === "sort" && value === "relevance");
      if (key !== "city" && !blank) { out.append(key, value); }
    });
    if (page > 1) { out.set("page", String(page)); }
    return out;
  }

  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(run, delay);
  }

  function run() {
    var query = params();
    var qs = query.toString();
    history.replaceState(null, "", "/search" + (qs ? "?" + qs : ""));
    if (inFlight) { inFlight.abort(); }
    inFlight = new AbortController();
    form.setAttribute("aria-busy", "true");
    fetch("/api/v1/tutors/search?" + qs, {
      headers: { "Accept": "application/json" }, signal: inFlight.signal
    }).then(function (response) {
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    }).then(function (answer) {
      form.removeAttribute("aria-busy");
      if (answer.status === 200) {
        showError("");
        render(answer.body, query);
      } else if (answer.status === 503) {
        showError("");
        message("Search is briefly unavailable. Please try again in a moment.");
      } else {
        var fields = answer.body.fields || {};
        if (fields.page && page > 1) { page = 1; run(); return; }
        var texts = Object.keys(fields).map(function (k) { return fields[k]; });
        showError("Please check: " + (texts.join(" ") || answer.body.message || "the search."));
      }
    }).catch(function (error) {
      if (error.name !== "AbortError") {
        form.removeAttribute("aria-busy");
        message("Search is briefly unavailable. Please try again in a moment.");
      }
    });
  }

  // The same rounding as search/presenters.py format_distance.
  function distance(km) {
    if (km < 1) { return km >= 0.05 ? Math.max(100, Math.round(km * 10) * 100) + " m" : "under 100 m"; }
    if (km < 10) { return km.toFixed(1) + " km"; }
    return Math.round(km).toLocaleString("en") + " km";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function money(minor, currency) {
    var exp = { JPY: 0, KRW: 0, ISK: 0, CLP: 0, VND: 0, BHD: 3, KWD: 3 }[currency];
    if (exp === undefined) { exp = 2; }
    var scale = Math.pow(10, exp);
    try {
      return new Intl.NumberFormat("en", {
        style: "currency", currency: currency,
        minimumFractionDigits: minor % scale === 0 ? 0 : exp, maximumFractionDigits: exp
      }).format(minor / scale);
    } catch (e) { return (minor / scale).toFixed(exp) + " " + currency; }
  }

  // "Tue 14 Jan, 18:00" in the zone the buckets are read in (the viewer's).
  function nextFree(iso) {
    var zone = tzInput.value || "UTC";
    try {
      var parts = {};
      new Intl.DateTimeFormat("en-GB", {
        timeZone: zone, weekday: "short", day: "numeric", month: "short",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23"
      }).formatToParts(new Date(iso)).forEach(function (p) { parts[p.type] = p.value; });
      return parts.weekday + " " + parts.day + " " + parts.month + ", " + parts.hour + ":" + parts.minute;
    } catch (e) { return iso; }
  }

  function hitNode(hit) {
    var li = el("li", "hit");
    var a = el("a", "hit-link");
    a.href = "/tutors/" + encodeURIComponent(hit.id);
    if (hit.photo_url) {
      var img = el("img", "avatar");
      img.src = hit.photo_url; img.alt = ""; img.width = 64; img.height = 64; img.loading = "lazy";
      a.appendChild(img);
    } else {
      var initials = el("span", "avatar initials", (hit.name || "?").slice(0, 1));
      initials.setAttribute("aria-hidden", "true");
      a.appendChild(initials);
    }
    var main = el("span", "hit-main");
    main.appendChild(el("span", "tutor-name", hit.name));
    if (hit.headline) { main.appendChild(el("span", "headline", hit.headline)); }
    if (hit.review_count && hit.rating !== null && hit.rating !== undefined) {
      var rating = el("span", "hit-rating");
      var star = el("span", null, "★");
      star.setAttribute("aria-hidden", "true");
      rating.appendChild(star);
      rating.appendChild(el("span", "visually-hidden", "Rated"));
      rating.appendChild(document.createTextNode(" " + Number(hit.rating).toFixed(1) + " "));
      rating.appendChild(el("small", null,
        "(" + hit.review_count + " review" + (hit.review_count === 1 ? "" : "s") + ")"));
      main.appendChild(rating);
    }
    if (hit.next_free_at) {
      var free = el("span", "hit-free", "Next free: ");
      var when = el("time", null, nextFree(hit.next_free_at));
      when.setAttribute("datetime", hit.next_free_at);
      free.appendChild(when);
      main.appendChild(free);
    }
    var meta = (hit.instrument_names || []).join(", ");
    if (hit.city) { meta += " · " + hit.city + ", " + hit.country; }
    if (hit.distance_km !== undefined && hit.distance_km !== null) {
      meta += " · " + distance(hit.distance_km) + " away";
    }
    main.appendChild(el("span", "meta", meta));
    a.appendChild(main);
    if (hit.price_per_hour_minor) {
      var price = el("span", "hit-price", money(hit.price_per_hour_minor, hit.currency));
      price.appendChild(el("small", null, "/hour"));
      a.appendChild(price);
    }
    li.appendChild(a);
    return li;
  }

  function message(text) {
    results.replaceChildren(el("p", "notice warn search-empty", text));
    pager.replaceChildren();
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = !text;
  }

  function render(body, query) {
    var total = body.total;
    summary.textContent = total + (total === 1 ? " tutor" : " tutors");
    if (total === 0) {
      results.replaceChildren(emptyState(query));
    } else {
      var list = el("ol", "hits");
      body.hits.forEach(function (hit) { list.appendChild(hitNode(hit)); });
      results.replaceChildren(list);
    }
    renderFacets(body.facets, query);
    renderSort(query.has("near") || query.has("lat"));
    renderPager(body.page, Math.max(1, Math.ceil(total / body.per_page)));
  }

  function emptyState(query) {
    var box = el("div", "search-empty");
    box.appendChild(el("p")).appendChild(el("strong", null, "No tutors match all of that."));
    var ways = [];
    if (query.get("q")) { ways.push(["the words “" + query.get("q") + "”", function () { form.q.value = ""; }]); }
    form.querySelectorAll("input[type=checkbox]:checked").forEach(function (box) {
      var facet = labels[box.name] || {};
      ways.push([facet[box.value] || box.value, function () { box.checked = false; }]);
    });
    [["radius_km", "the distance"], ["price_min", "the lowest price"], ["price_max", "the highest price"],
     ["free_within_days", "the availability window"]]
      .forEach(function (pair) {
        if (query.get(pair[0])) { ways.push([pair[1], function () { form[pair[0]].value = ""; }]); }
      });
    if (ways.length) {
      box.appendChild(el("p", null, "Try removing one of these:"));
      var list = el("ul");
      ways.forEach(function (way) {
        var button = el("button", "link", way[0]);
        button.type = "button";
        button.addEventListener("click", function () { way[1](); page = 1; run(); });
        list.appendChild(el("li")).appendChild(button);
      });
      box.appendChild(list);
    }
    return box;
  }

  function optionNode(name, value, count, checked) {
    var label = el("label", "check facet-option");
    var input = el("input");
    input.type = "checkbox"; input.name = name; input.value = value; input.checked = checked;
    label.appendChild(input);
    label.appendChild(document.createTextNode(" "));
    label.appendChild(el("span", null, (labels[name] || {})[value] || value));
    label.appendChild(document.createTextNode(" "));
    label.appendChild(el("span", "count", String(count)));
    return label;
  }

  function renderFacets(facets, query) {
    form.querySelectorAll("[data-facet]").forEach(function (fieldset) {
      var name = fieldset.getAttribute("data-facet");
      var chosen = query.getAll(name);
      var counts = facets[name] || {};
      var values = name === "availability" ? BUCKETS.slice() :
        Object.keys(counts).filter(function (v) { return counts[v] > 0 || chosen.indexOf(v) >= 0; });
      chosen.forEach(function (v) { if (values.indexOf(v) < 0) { values.push(v); } });
      if (name === "format") {
        values.sort(function (a, b) { return FORMAT_ORDER.indexOf(a) - FORMAT_ORDER.indexOf(b); });
      }
      var box = fieldset.querySelector("[data-options]");
      var more = box.querySelector("details");
      var wasOpen = more && more.open;
      box.replaceChildren();
      var extra = el("details", "facet-more");
      values.forEach(function (value, i) {
        var checked = chosen.indexOf(value) >= 0;
        var node = optionNode(name, value, counts[value] || 0, checked);
        if (i < VISIBLE || checked) { box.appendChild(node); } else { extra.appendChild(node); }
      });
      if (extra.children.length) {
        extra.insertBefore(el("summary", null, extra.children.length + " more"), extra.firstChild);
        extra.open = wasOpen;
        box.appendChild(extra);
      }
    });
  }

  function renderSort(hasLocation) {
    var distance = sortSelect.querySelector("option[value=distance]");
    if (hasLocation && !distance) {
      distance = el("option", null, "Nearest first");
      distance.value = "distance";
      sortSelect.insertBefore(distance, sortSelect.querySelector("option[value=soonest]"));
    } else if (!hasLocation && distance) {
      if (sortSelect.value === "distance") { sortSelect.value = "relevance"; }
      distance.remove();
    }
  }

  function renderPager(current, pages) {
    page = current;
    var query = params();
    function link(target, text, rel) {
      query.set("page", String(target));
      var a = el("a", null, text);
      a.href = "/search?" + query.toString();
      a.rel = rel;
      a.setAttribute("data-page", String(target));
      return a;
    }
    pager.replaceChildren(
      current > 1 ? link(current - 1, "← Previous", "prev") : el("span"),
      pages > 1 ? el("span", null, "Page " + current + " of " + pages) : el("span"),
      current < pages ? link(current + 1, "Next →", "next") : el("span")
    );
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    page = 1;
    schedule(0);
  });
  form.addEventListener("input", function (event) {
    if (event.target === cityInput) { return; }
    page = 1;
    schedule(event.target.name === "q" ? 250 : 0);
  });
  form.addEventListener("change", function (event) {
    if (event.target === cityInput || event.target.name === "q") { return; }
    page = 1;
    schedule(0);
  });
  pager.addEventListener("click", function (event) {
    var target = event.target.closest("a[data-page]");
    if (!target) { return; }
    event.preventDefault();
    page = parseInt(target.getAttribute("data-page"), 10) || 1;
    schedule(0);
    form.querySelector(".search-results").scrollIntoView({ behavior: "smooth", block: "start" });
  });

  // Location: suggestions from the offline city list; choosing one sets the hidden city id.
  var cityTimer = null;
  function setCity(id) {
    if (cityId.value === id) { return; }
    cityId.value = id;
    // A chosen city replaces a location given as coordinates.
    form.querySelectorAll("input[name=lat], input[name=lng]").forEach(function (i) { i.remove(); });
    page = 1;
    schedule(250);
  }
  cityInput.addEventListener("input", function () {
    var text = cityInput.value.trim();
    var id = knownCities[text] || "";
    setCity(id);
    clearTimeout(cityTimer);
    if (id || text.length < 2) { return; }
    cityTimer = setTimeout(function () {
      fetch("/api/v1/places/cities?q=" + encodeURIComponent(text.split(",")[0]))
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (cities) {
          cityList.replaceChildren();
          cities.forEach(function (c) {
            var label = c.name + ", " + c.country_code;
            knownCities[label] = String(c.geoname_id);
            var option = el("option");
            option.value = label;
            option.label = c.name + ", " + c.country;
            cityList.appendChild(option);
          });
        });
    }, 200);
  });
  if (cityInput.value && cityId.value) { knownCities[cityInput.value] = cityId.value; }

  // Without a zone in the address (a visitor), read free times in the browser's own zone.
  var browserZone = "";
  try { browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { browserZone = ""; }
  if (!tzInput.value && browserZone && browserZone !== "UTC") {
    tzInput.value = browserZone;
    tzLabel.textContent = browserZone;
    schedule(0);
  }
})();
