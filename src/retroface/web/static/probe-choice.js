/* The search form's face picker. When exactly one photo is selected, it is shown here (read
   in the browser: nothing leaves it until the search is sent) and sent once to be listed
   (/ui/cases/REF/probe-faces: nothing is analysed beyond detection, nothing kept, audited);
   each face found is outlined to click, which fills the form's face number. "Mark a face the
   detector missed" takes four clicks: two opposite corners of the face's box, then the two
   eye centres, filling the form's mark and eyes fields. Progressive enhancement: without
   this file the same fields are typed in. CSP-clean: served from /ui/static, no inline
   handlers, SVG attributes only (no inline styles). */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";

  function setUp() {
    var form = document.getElementById("search-form");
    if (!form) { return; }
    var files = form.querySelector("input[type=file]");
    var picker = document.getElementById("probe-picker");
    var image = document.getElementById("picker-image");
    var overlay = document.getElementById("picker-overlay");
    var status = document.getElementById("picker-status");
    var markButton = document.getElementById("picker-mark");
    var face = form.querySelector("input[name=face]");
    var mark = form.querySelector("input[name=mark]");
    var eyes = form.querySelector("input[name=eyes]");
    var clicks = null;

    function say(text) { status.textContent = text; }
    function clearChoice() { face.value = ""; mark.value = ""; eyes.value = ""; }
    function element(name, attributes) {
      var node = document.createElementNS(SVG, name);
      Object.keys(attributes).forEach(function (k) { node.setAttribute(k, attributes[k]); });
      overlay.appendChild(node);
      return node;
    }
    function point(e) {  // the click in the photo's own pixels
      var box = overlay.getBoundingClientRect();
      return [
        Math.round((e.clientX - box.left) * image.naturalWidth / box.width),
        Math.round((e.clientY - box.top) * image.naturalHeight / box.height)
      ];
    }
    function choose(rect, number) {
      overlay.querySelectorAll(".face-box").forEach(function (r) {
        r.classList.remove("chosen");
        r.setAttribute("aria-pressed", "false");
      });
      rect.classList.add("chosen");
      rect.setAttribute("aria-pressed", "true");
      overlay.querySelectorAll(".mark").forEach(function (n) { overlay.removeChild(n); });
      clearChoice();
      face.value = String(number);
      say("Face " + number + " will be searched; no other face of the photo is.");
    }
    function draw(faces) {
      faces.forEach(function (f) {
        var rect = element("rect", {
          "class": "face-box", x: f.box[0], y: f.box[1], width: f.box[2], height: f.box[3],
          tabindex: "0", role: "button", "aria-pressed": "false",
          "aria-label": "Face " + f.face + ", quality " + f.quality.toFixed(2)
        });
        rect.addEventListener("click", function (e) {
          if (clicks) { return; }  // marking: the click is a point of the mark (the overlay's)
          e.stopPropagation();
          choose(rect, f.face);
        });
        rect.addEventListener("keydown", function (e) {
          if (e.key === "Enter" || e.key === " ") { e.preventDefault(); choose(rect, f.face); }
        });
        var size = Math.max(12, Math.round(image.naturalWidth / 40));
        element("text", { "class": "face-number", x: f.box[0] + size / 4, y: f.box[1] + size, "font-size": size })
          .textContent = String(f.face);
      });
      if (faces.length === 1) { say("One face found: it is the one searched."); }
      else if (faces.length === 0) { say("No face found: mark the face by hand to search it."); }
      else { say(faces.length + " faces found: click the one to search."); }
    }
    function list(file) {
      var body = new FormData();
      body.append("csrf", form.querySelector("input[name=csrf]").value);
      body.append("files", file);
      say("Looking for faces…");
      fetch(form.getAttribute("data-faces-url"), { method: "POST", body: body, credentials: "same-origin" })
        .then(function (r) {
          if (!r.ok) { throw new Error("the faces could not be listed (" + r.status + ")"); }
          return r.json();
        })
        .then(function (doc) { draw(doc.faces); })
        .catch(function (err) { say(String(err.message || err) + "; type a face number below instead."); });
    }
    function show(file) {
      var reader = new FileReader();
      reader.onload = function () {
        image.onload = function () {
          overlay.setAttribute("viewBox", "0 0 " + image.naturalWidth + " " + image.naturalHeight);
          picker.hidden = false;
          list(file);
        };
        image.src = String(reader.result);
      };
      reader.readAsDataURL(file);
    }

    files.addEventListener("change", function () {
      while (overlay.firstChild) { overlay.removeChild(overlay.firstChild); }
      clearChoice();
      clicks = null;
      picker.hidden = true;
      var chosen = files.files;
      if (chosen.length === 1 && chosen[0].type.indexOf("image/") === 0) { show(chosen[0]); }
    });

    markButton.addEventListener("click", function () {
      clicks = [];
      overlay.querySelectorAll(".mark").forEach(function (n) { overlay.removeChild(n); });
      say("Click one corner of the face's box, then the opposite corner.");
    });
    overlay.addEventListener("click", function (e) {
      if (!clicks) { return; }
      var p = point(e);
      clicks.push(p);
      element("circle", { "class": "mark", cx: p[0], cy: p[1], r: Math.max(2, image.naturalWidth / 200) });
      if (clicks.length === 2) {
        var x = Math.min(clicks[0][0], clicks[1][0]), y = Math.min(clicks[0][1], clicks[1][1]);
        var w = Math.abs(clicks[0][0] - clicks[1][0]), h = Math.abs(clicks[0][1] - clicks[1][1]);
        element("rect", { "class": "mark", x: x, y: y, width: w, height: h });
        clearChoice();
        mark.value = [x, y, w, h].join(",");
        say("Now click the centre of one eye, then the other.");
      } else if (clicks.length === 4) {
        eyes.value = [clicks[2][0], clicks[2][1], clicks[3][0], clicks[3][1]].join(",");
        clicks = null;
        say("The face marked by hand will be searched (box " + mark.value + ", eyes " + eyes.value + ").");
      }
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", setUp); }
  else { setUp(); }
}());
