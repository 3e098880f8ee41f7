// The service page: POST the form to ./predict (format=json), draw the loss polygons over the after image.
(function () {
  "use strict";
  var form = document.getElementById("upload");
  var errorBox = document.getElementById("error");
  var totals = document.getElementById("totals");
  var el = document.getElementById("map");
  if (typeof L === "undefined") {
    errorBox.textContent = "The map library is missing on the server: run npm ci --prefix planet_sentinel/site/assets.";
    errorBox.hidden = false;
    return;
  }
  var map = L.map(el).setView([0, 0], 2);
  var drawn = L.layerGroup().addTo(map);
  el.dataset.ready = "true";

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = false;
  }
  function problem(response) {
    // The service's errors are {detail, kind}; FastAPI's 422 validation errors carry a list.
    return response.json().then(function (body) {
      var detail = Array.isArray(body.detail) ? body.detail.map(function (d) { return d.msg; }).join("; ") : body.detail;
      return "The service refused the files (" + response.status + "): " + (detail || response.statusText);
    }, function () { return "The service answered " + response.status + " " + response.statusText; });
  }
  function field(name) {
    var input = form.elements[name];
    return input.files && input.files.length ? input.files[0] : null;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    errorBox.hidden = true;
    totals.hidden = true;
    drawn.clearLayers();
    el.dataset.polygons = "0";
    var body = new FormData();
    ["before", "after", "file"].forEach(function (name) { if (field(name)) { body.append(name, field(name)); } });
    if (form.elements.bands.value.trim()) { body.append("bands", form.elements.bands.value.trim()); }
    body.append("format", "json");
    var image = null;
    if (field("after")) {
      var one = new FormData();
      one.append("image", field("after"));
      image = fetch("page/overlay", { method: "POST", body: one }).then(function (r) {
        if (!r.ok) { return null; }
        var bounds = JSON.parse(r.headers.get("X-Sentinel-Bounds"));
        return r.blob().then(function (picture) { return { url: URL.createObjectURL(picture), bounds: bounds }; });
      });
    }
    fetch("predict", { method: "POST", body: body, headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) { return problem(response).then(function (text) { throw new Error(text); }); }
      return response.json();
    }).then(function (answer) {
      return Promise.resolve(image).then(function (shown) {
        if (shown) { L.imageOverlay(shown.url, shown.bounds, { className: "after-image" }).addTo(drawn); }
        var loss = L.geoJSON(answer.loss, {
          style: { className: "loss", color: "#d7191c", weight: 2, fillOpacity: 0.35 },
          onEachFeature: function (f, layer) {
            layer.bindPopup((f.properties.area_ha || 0).toFixed(2) + " ha, mean probability " + (f.properties.mean_probability || 0).toFixed(2));
          }
        }).addTo(drawn);
        var bounds = shown ? L.latLngBounds(shown.bounds) : loss.getBounds();
        if (bounds.isValid()) { map.fitBounds(bounds); }
        el.dataset.polygons = String(answer.polygons);
        totals.textContent = answer.polygons + " loss polygons, " + answer.loss_area_ha.toFixed(2) + " ha; unknown (cloud, nodata) " +
          (100 * answer.unknown_share).toFixed(1) + " %; model " + (answer.model.name || "bundle") + (answer.model.version ? " v" + answer.model.version : "");
        totals.hidden = false;
        el.dataset.done = "true";
      });
    }).catch(function (err) {
      showError(err.message);
      el.dataset.done = "error";
    });
  });
})();
