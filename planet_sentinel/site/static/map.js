// The site's map: alerts, composites, region tiles and plots from window.SENTINEL_MAP (data/map.js).
// No basemap is loaded unless the reader turns on "OpenStreetMap" (off by default: the site works offline).
(function () {
  "use strict";
  var data = window.SENTINEL_MAP;
  var el = document.getElementById("map");
  var map = L.map(el, { preferCanvas: false });
  var overlays = {};
  var bounds = L.latLngBounds([]);

  function text(parent, tag, value) {
    var node = document.createElement(tag);
    node.textContent = value;
    parent.appendChild(node);
    return node;
  }

  // Newer periods stronger: the alert's observed_before ranked among the distinct dates.
  var dates = Array.from(new Set(data.alerts.features.map(function (f) { return f.properties.observed_before; }))).sort();
  function alertStyle(feature) {
    var p = feature.properties;
    var rank = dates.length > 1 ? dates.indexOf(p.observed_before) / (dates.length - 1) : 1;
    var colour = p.confidence === "high" ? "#d7191c" : "#fdae61";
    return { className: "alert alert-" + p.confidence, color: colour, weight: 2, fillColor: colour, fillOpacity: 0.25 + 0.45 * rank, opacity: 0.5 + 0.5 * rank };
  }
  function alertPopup(feature) {
    var p = feature.properties;
    var box = document.createElement("div");
    box.className = "popup";
    text(box, "strong", p.id);
    var list = document.createElement("dl");
    [["area", p.area_ha.toFixed(2) + " ha"], ["observed", p.observed_after + " → " + p.observed_before],
     ["confidence", p.confidence + " (max probability " + p.max_probability.toFixed(2) + ")"],
     ["status", p.status], ["tile", p.tile_id],
     ["model", p.model_name + (p.model_version ? " v" + p.model_version : "")]].forEach(function (pair) {
      text(list, "dt", pair[0]);
      text(list, "dd", pair[1]);
    });
    box.appendChild(list);
    if (data.issue_url) {
      var a = text(box, "a", "issue");
      a.href = data.issue_url;
    }
    return box;
  }

  data.overlays.forEach(function (o) {
    var layer = L.imageOverlay(o.url, o.bounds, { alt: o.name, className: "composite composite-" + o.part });
    overlays[o.name] = layer;
    if (o.part === "after") { layer.addTo(map); }
    bounds.extend(o.bounds);
  });

  var statusColour = { ok: "#1a9641", failed: "#d7191c", missing: "#7b7b7b" };
  if (data.tiles.features.length) {
    var tiles = L.geoJSON(data.tiles, {
      style: function (f) { return { className: "tile tile-" + f.properties.status, color: statusColour[f.properties.status] || "#7b7b7b", weight: 1, fill: false, dashArray: "4" }; },
      onEachFeature: function (f, layer) {
        layer.bindPopup(f.properties.id + ": " + f.properties.status + (f.properties.reason ? " (" + f.properties.reason + ")" : ""));
      }
    }).addTo(map);
    overlays["region tiles"] = tiles;
    bounds.extend(tiles.getBounds());
  }

  var verdictColour = { "loss detected": "#d7191c", "no loss detected": "#1a9641", "unknown: clouds": "#2c7bb6" };
  if (data.plots.features.length) {
    var plots = L.geoJSON(data.plots, {
      style: function (f) { return { className: "plot", color: verdictColour[f.properties.verdict] || "#7b7b7b", weight: 2, fillOpacity: 0.1 }; },
      onEachFeature: function (f, layer) {
        layer.bindPopup(String(f.properties.plot_id) + ": " + (f.properties.verdict || f.properties.error || ""));
      }
    }).addTo(map);
    overlays["plots"] = plots;
    bounds.extend(plots.getBounds());
  }

  var alerts = L.geoJSON(data.alerts, {
    style: alertStyle,
    onEachFeature: function (f, layer) { layer.bindPopup(function () { return alertPopup(f); }); }
  }).addTo(map);
  overlays["alerts (" + data.alerts.features.length + ")"] = alerts;
  if (data.alerts.features.length) { bounds.extend(alerts.getBounds()); }

  var osm = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
    maxZoom: 19, attribution: "&copy; <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a> contributors"
  });
  L.control.layers({}, Object.assign({ "OpenStreetMap (online)": osm }, overlays), { collapsed: false }).addTo(map);
  L.control.scale().addTo(map);
  if (bounds.isValid()) { map.fitBounds(bounds); } else { map.setView([0, 0], 2); }
  el.dataset.ready = "true";
  window.sentinelMap = { map: map, layers: overlays, alerts: alerts };
})();
