// The console's only script of its own (the CSP allows no inline script): CSRF header for
// htmx, charts from data-chart attributes, a busy indicator after 300 ms, the phone menu,
// confirmations, and bar widths (no inline style either).
(function () {
  "use strict";
  var csrf = function () {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  };
  var busyTimer = null;
  var showBusy = function () {
    clearTimeout(busyTimer);
    busyTimer = setTimeout(function () {
      var el = document.getElementById("busy");
      if (el) el.hidden = false;
      document.body.setAttribute("aria-busy", "true");
    }, 300);
  };
  var hideBusy = function () {
    clearTimeout(busyTimer);
    var el = document.getElementById("busy");
    if (el) el.hidden = true;
    document.body.removeAttribute("aria-busy");
  };
  var palette = ["#2563eb", "#db2777", "#16a34a", "#ea580c", "#7c3aed", "#0891b2", "#ca8a04",
    "#dc2626", "#4b5563", "#65a30d", "#9333ea", "#0d9488"];
  var drawCharts = function (root) {
    if (typeof window.Chart === "undefined") return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) return;
      canvas.dataset.drawn = "1";
      var spec = JSON.parse(canvas.dataset.chart);
      (spec.data.datasets || []).forEach(function (ds, i) {
        var color = ds.color || palette[i % palette.length];
        if (!ds.borderColor) ds.borderColor = color;
        if (!ds.backgroundColor) ds.backgroundColor = spec.type === "line" ? color : color + "cc";
        delete ds.color;
      });
      var options = spec.options || {};
      options.animation = false;
      options.responsive = true;
      options.maintainAspectRatio = false;
      options.plugins = options.plugins || {};
      options.plugins.legend = options.plugins.legend || { position: "bottom" };
      new window.Chart(canvas, { type: spec.type, data: spec.data, options: options });
    });
  };
  var sizeBars = function (root) {
    root.querySelectorAll("[data-width]").forEach(function (el) {
      el.style.width = Math.max(0, Math.min(100, parseFloat(el.dataset.width) || 0)) + "%";
    });
  };
  var ready = function (root) {
    drawCharts(root);
    sizeBars(root);
  };
  document.addEventListener("DOMContentLoaded", function () {
    ready(document);
    var toggle = document.querySelector(".menu-toggle");
    var nav = document.getElementById("nav");
    if (toggle && nav) {
      toggle.addEventListener("click", function () {
        var open = nav.classList.toggle("open");
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }
    document.body.addEventListener("htmx:configRequest", function (e) {
      e.detail.headers["X-CSRF-Token"] = csrf();
    });
    document.body.addEventListener("htmx:beforeRequest", showBusy);
    document.body.addEventListener("htmx:afterRequest", hideBusy);
    document.body.addEventListener("htmx:afterSwap", function (e) { ready(e.target); });
    document.addEventListener("submit", function (e) {
      var form = e.target;
      if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
        e.preventDefault();
        return;
      }
      showBusy();
    });
    document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
      el.addEventListener("change", function () { el.form.requestSubmit(); });
    });
  });
  window.addEventListener("pageshow", hideBusy);
  window.xplorr = { csrf: csrf, showBusy: showBusy, hideBusy: hideBusy };
})();

// --- Account pages (auth/people helper): /login passkey sign-in, /security passkey
// registration, /login/sso's hand-over to the identity provider. WebAuthn options come from
// the console (which asks the API); the browser's answer goes back in a hidden form field,
// so the server starts the login session and no token ever reaches this script.
(function () {
  "use strict";
  var supported = function () {
    return !!(window.PublicKeyCredential && window.PublicKeyCredential.parseRequestOptionsFromJSON &&
      window.PublicKeyCredential.parseCreationOptionsFromJSON && navigator.credentials);
  };
  var say = function (form, text) {
    var box = form.querySelector("[data-passkey-error]");
    if (box) { box.textContent = text; box.hidden = false; }
    if (window.xplorr) window.xplorr.hideBusy();
  };
  var options = function (url) {
    return fetch(url, { credentials: "same-origin", headers: { accept: "application/json" } })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error(body.message || "The server refused.");
          return body;
        });
      });
  };
  var ceremony = function (form, url, run) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      options(url).then(run).then(function (credential) {
        form.querySelector('input[name="credential"]').value = JSON.stringify(credential.toJSON());
        form.submit();
      }).catch(function (err) {
        say(form, err && err.name === "NotAllowedError"
          ? "The passkey was not used (cancelled or timed out). Try again."
          : (err && err.message) || "The passkey did not work.");
      });
    });
  };
  document.addEventListener("DOMContentLoaded", function () {
    var login = document.querySelector("form[data-passkey-login]");
    var register = document.querySelector("form[data-passkey-register]");
    var unsupported = document.querySelector("[data-passkey-unsupported]");
    if (supported()) {
      if (unsupported) unsupported.hidden = true;
      if (login) {
        login.hidden = false;
        ceremony(login, "/login/passkey/options", function (opts) {
          return navigator.credentials.get({
            publicKey: window.PublicKeyCredential.parseRequestOptionsFromJSON(opts)
          });
        });
      }
      if (register) {
        register.hidden = false;
        ceremony(register, "/security/passkeys/options", function (opts) {
          return navigator.credentials.create({
            publicKey: window.PublicKeyCredential.parseCreationOptionsFromJSON(opts)
          });
        });
      }
    }
    var follow = document.querySelector("a[data-follow]");
    if (follow) window.location.assign(follow.href);
  });
})();
