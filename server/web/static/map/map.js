// The office map (docs/reports.md "Map"): one marker per office with coordinates, coloured by
// its band, over map tiles (ADAL_MAP_TILE_URL) when they load and over the region outlines
// shipped with Adal (Natural Earth) always, so a closed network still shows where offices are.
// Data comes from <script type="application/json" id="map-data"> (the CSP allows no inline
// script). Keyboard: markers are buttons in the Tab order (Leaflet's `keyboard` option); Enter
// opens the popup and moves focus into it; Escape closes it and returns to the marker.
(function () {
  "use strict";
  var element = document.getElementById("office-map");
  var source = document.getElementById("map-data");
  if (!element || !source || !window.L) { return; }
  var data = JSON.parse(source.textContent);
  var words = data.strings;
  var BANDS = ["green", "yellow", "red"];

  var map = L.map(element, {zoomSnap: 0.5, worldCopyJump: false});
  map.setView([45.5, 64], 4);  // Kazakhstan and Uzbekistan, until the markers say better
  map.attributionControl.setPrefix(false);

  if (data.tiles && data.tiles.url) {
    L.tileLayer(data.tiles.url, {maxZoom: 18, attribution: data.tiles.attribution || ""})
      .addTo(map);
  }

  function number(value) {
    return value === null || value === undefined ? "—" : Number(value).toFixed(1);
  }

  function row(list, label, value, cls) {
    var dt = document.createElement("dt");
    dt.textContent = label;
    var dd = document.createElement("dd");
    dd.textContent = value;
    if (cls) { dd.className = cls; }
    list.appendChild(dt);
    list.appendChild(dd);
  }

  function popupOf(office) {
    var box = document.createElement("div");
    box.className = "map-popup";
    box.setAttribute("data-code", office.code);
    box.tabIndex = -1;
    var title = document.createElement("strong");
    title.className = "map-popup-name";
    title.textContent = office.name;
    box.appendChild(title);
    var code = document.createElement("span");
    code.className = "code";
    code.textContent = " " + office.code;
    box.appendChild(code);
    var list = document.createElement("dl");
    var band = BANDS.indexOf(office.band) >= 0 ? words.bands[office.band] : words.no_band;
    row(list, words.score, number(office.score) + " · " + band, "map-score");
    row(list, words.interval, office.ci_low === null || office.ci_low === undefined ? "—"
        : number(office.ci_low) + "–" + number(office.ci_high), "map-interval");
    row(list, words.visits, String(office.visits), "map-visits");
    if (office.rank === null || office.rank === undefined) {
      var note = document.createElement("p");
      note.className = "map-note";
      note.textContent = words.not_ranked;
      box.appendChild(list);
      box.appendChild(note);
    } else {
      box.appendChild(list);
    }
    var link = document.createElement("a");
    link.href = office.link;
    link.textContent = words.link;
    box.appendChild(link);
    return box;
  }

  var markers = [];
  data.offices.forEach(function (office) {
    var band = BANDS.indexOf(office.band) >= 0 ? office.band : "none";
    var label = office.name + " (" + office.code + "): " + number(office.score) + " · " +
      (band === "none" ? words.no_band : words.bands[band]);
    var marker = L.marker([office.lat, office.lon], {
      icon: L.divIcon({className: "map-marker band-" + band, iconSize: [18, 18], html: ""}),
      title: label, keyboard: true, riseOnHover: true
    });
    marker.bindPopup(popupOf(office), {autoPanPadding: [24, 24]});
    marker.addTo(map);
    var icon = marker.getElement();
    icon.setAttribute("data-code", office.code);
    icon.setAttribute("data-band", band);
    icon.setAttribute("aria-label", label);
    markers.push(marker);
  });

  var opener = null;
  map.on("popupopen", function (event) {
    var box = event.popup.getElement().querySelector(".map-popup");
    opener = event.popup._source && event.popup._source.getElement();
    if (box) { box.focus({preventScroll: true}); }
  });
  map.on("popupclose", function () {
    if (opener && element.contains(document.activeElement) &&
        !document.activeElement.classList.contains("leaflet-marker-icon")) {
      opener.focus({preventScroll: true});
    }
  });
  element.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && map.hasLayer && map._popup && map._popup.isOpen()) {
      var back = opener;
      map.closePopup();
      if (back) { back.focus({preventScroll: true}); }
      event.preventDefault();
    }
  });

  if (markers.length) {
    // No zoom animation: markers that move after the page says it is drawn miss clicks and taps.
    map.fitBounds(L.featureGroup(markers).getBounds(),
                  {padding: [30, 30], maxZoom: 11, animate: false});
  }

  function ready(outlines) {
    element.setAttribute("data-outlines", String(outlines));
    element.setAttribute("data-ready", "1");
  }

  fetch(data.outlines, {credentials: "same-origin"})
    .then(function (response) {
      if (!response.ok) { throw new Error("outlines: " + response.status); }
      return response.json();
    })
    .then(function (geojson) {
      var lang = data.lang;
      var layer = L.geoJSON(geojson, {
        interactive: false,
        style: function () { return {className: "map-outline", weight: 1}; }
      });
      layer.addTo(map);
      layer.bringToBack();
      if (!markers.length) { map.fitBounds(layer.getBounds(), {animate: false}); }
      ready(layer.getLayers().length);
      element.setAttribute("data-outline-lang", lang);
    })
    .catch(function () { ready(0); });
}());
