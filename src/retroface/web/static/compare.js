/* The comparison view's tools: zoom and pan (both faces together), side-by-side or overlay
   (opacity slider, flicker). Progressive enhancement: without this file the page shows both
   faces, every reference image and the whole frame, and the decision form works.
   CSP-clean: served from /ui/static, no inline handlers; it sets element styles through the
   CSSOM (element.style), which the UI's style-src 'self' allows. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var MIN = 1, MAX = 8, STEP = 1.25, PAN = 20, FLICKER_MS = 700;

  function View(viewport) {
    this.viewport = viewport;
    this.images = Array.prototype.slice.call(viewport.querySelectorAll("img.zoomable"));
    this.scale = 1; this.x = 0; this.y = 0;
  }
  View.prototype.apply = function () {
    var limit = (this.scale - 1) * 50; // percent of the box the image may move
    this.x = Math.max(-limit, Math.min(limit, this.x));
    this.y = Math.max(-limit, Math.min(limit, this.y));
    var t = "translate(" + this.x + "%, " + this.y + "%) scale(" + this.scale + ")";
    this.images.forEach(function (img) { img.style.transform = t; });
    this.viewport.classList.toggle("zoomed", this.scale > 1);
  };

  function Group(views) { this.views = views; }
  Group.prototype.each = function (fn) { this.views.forEach(fn); };
  Group.prototype.zoom = function (factor) {
    this.each(function (v) { v.scale = Math.max(MIN, Math.min(MAX, v.scale * factor)); v.apply(); });
  };
  Group.prototype.pan = function (dx, dy) {
    this.each(function (v) { v.x += dx / v.scale; v.y += dy / v.scale; v.apply(); });
  };
  Group.prototype.reset = function () {
    this.each(function (v) { v.scale = 1; v.x = 0; v.y = 0; v.apply(); });
  };

  function bind(group, viewport) {
    viewport.addEventListener("wheel", function (e) {
      e.preventDefault();
      group.zoom(e.deltaY < 0 ? STEP : 1 / STEP);
    }, { passive: false });
    var drag = null;
    viewport.addEventListener("pointerdown", function (e) {
      drag = { x: e.clientX, y: e.clientY, w: viewport.clientWidth, h: viewport.clientHeight };
      viewport.setPointerCapture(e.pointerId);
    });
    viewport.addEventListener("pointermove", function (e) {
      if (!drag) { return; }
      group.pan(100 * (e.clientX - drag.x) / drag.w, 100 * (e.clientY - drag.y) / drag.h);
      drag.x = e.clientX; drag.y = e.clientY;
    });
    ["pointerup", "pointercancel"].forEach(function (name) {
      viewport.addEventListener(name, function () { drag = null; });
    });
    viewport.addEventListener("keydown", function (e) {
      var moves = { ArrowLeft: [PAN, 0], ArrowRight: [-PAN, 0], ArrowUp: [0, PAN], ArrowDown: [0, -PAN] };
      if (e.key === "+" || e.key === "=") { group.zoom(STEP); }
      else if (e.key === "-") { group.zoom(1 / STEP); }
      else if (e.key === "0") { group.reset(); }
      else if (moves[e.key]) { group.pan(moves[e.key][0], moves[e.key][1]); }
      else { return; }
      e.preventDefault();
    });
  }

  // The frame scrubber: one frame at a time with a slider (without this, every frame shows).
  function setUpScrubber() {
    var control = document.querySelector(".scrub-control");
    if (!control) { return; }
    var range = document.getElementById("scrub-range");
    var time = document.getElementById("scrub-time");
    var frames = Array.prototype.slice.call(document.querySelectorAll(".scrub-frames li"));
    function show() {
      var at = Number(range.value);
      frames.forEach(function (li, i) { li.hidden = i !== at; });
      time.textContent = frames[at].getAttribute("data-time") + " s";
    }
    control.hidden = false;
    document.querySelector(".scrub-frames").classList.add("one-at-a-time");
    range.addEventListener("input", show);
    show();
  }

  function setUp() {
    setUpScrubber();
    var pairViews = [];
    document.querySelectorAll(".compare-pair .viewport, .overlay-stack").forEach(function (vp) {
      pairViews.push(new View(vp));
    });
    var pair = new Group(pairViews);
    pairViews.forEach(function (v) { bind(pair, v.viewport); });
    document.querySelectorAll(".frame-viewport").forEach(function (vp) {
      var own = new Group([new View(vp)]);
      bind(own, vp);
    });

    document.querySelectorAll("[data-zoom]").forEach(function (button) {
      button.addEventListener("click", function () {
        var what = button.getAttribute("data-zoom");
        if (what === "in") { pair.zoom(STEP); }
        else if (what === "out") { pair.zoom(1 / STEP); }
        else { pair.reset(); }
      });
    });

    var side = document.getElementById("compare-pair");
    var overlay = document.getElementById("compare-overlay");
    var modes = document.querySelectorAll("[data-mode]");
    modes.forEach(function (button) {
      button.addEventListener("click", function () {
        var mode = button.getAttribute("data-mode");
        if (!overlay) { return; }
        overlay.hidden = mode !== "overlay";
        side.hidden = mode === "overlay";
        modes.forEach(function (b) {
          b.setAttribute("aria-pressed", String(b.getAttribute("data-mode") === mode));
        });
        if (mode !== "overlay") { stopFlicker(); }
      });
    });
    if (!overlay) {
      modes.forEach(function (b) { if (b.getAttribute("data-mode") === "overlay") { b.disabled = true; } });
      return;
    }

    var top = overlay.querySelector(".overlay-top");
    var slider = document.getElementById("overlay-opacity");
    var flicker = overlay.querySelector("[data-flicker]");
    var timer = null, shown = true;
    function opacity() { top.style.opacity = String(slider.value / 100); }
    function stopFlicker() {
      if (timer) { clearInterval(timer); timer = null; }
      flicker.setAttribute("aria-pressed", "false");
      opacity();
    }
    slider.addEventListener("input", function () { if (!timer) { opacity(); } });
    flicker.addEventListener("click", function () {
      if (timer) { stopFlicker(); return; }
      flicker.setAttribute("aria-pressed", "true");
      timer = setInterval(function () {
        shown = !shown;
        top.style.opacity = shown ? "1" : "0";
      }, FLICKER_MS);
    });
    opacity();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
