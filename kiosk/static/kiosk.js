/* The kiosk in the browser: idle reset, the attract screen, search as letters are tapped, no long-press menu.
   No libraries and nothing from outside the kiosk; every page works without it too. */
(function () {
  "use strict";
  var COUNTDOWN_SECONDS = 15;
  var SLIDE_SECONDS = 6;
  var body = document.body;

  document.addEventListener("contextmenu", function (event) { event.preventDefault(); });

  // The attract screen (shown after a reset): cycle the notices on show; the whole screen is a link home.
  if (body.dataset.attract) {
    var slides = document.querySelectorAll(".attract-slide");
    var shown = 0;
    if (slides.length > 1) {
      setInterval(function () {
        slides[shown].classList.remove("current");
        shown = (shown + 1) % slides.length;
        slides[shown].classList.add("current");
      }, SLIDE_SECONDS * 1000);
    }
    return;
  }

  // Idle reset: after IDLE_SECONDS without a touch, a countdown; then the screen forgets this person.
  var overlay = document.getElementById("idle-overlay");
  var secondsLeft = document.getElementById("idle-seconds");
  var idleMs = Number(body.dataset.idle) * 1000;
  var idleTimer = null;
  var countdown = null;

  function startCountdown() {
    var reading = Array.from(document.querySelectorAll("audio")).some(function (audio) { return !audio.paused; });
    if (reading) {  // someone is listening to the page being read aloud
      idleTimer = setTimeout(startCountdown, idleMs);
      return;
    }
    var left = COUNTDOWN_SECONDS;
    secondsLeft.textContent = String(left);
    overlay.hidden = false;
    countdown = setInterval(function () {
      left -= 1;
      secondsLeft.textContent = String(left);
      if (left <= 0) {
        clearInterval(countdown);
        window.location.assign(body.dataset.reset);
      }
    }, 1000);
  }

  function touched() {
    if (!overlay.hidden) {  // any touch while the countdown runs means someone is still here
      clearInterval(countdown);
      overlay.hidden = true;
    }
    clearTimeout(idleTimer);
    idleTimer = setTimeout(startCountdown, idleMs);
  }

  if (overlay && idleMs > 0) {
    ["pointerdown", "keydown", "wheel"].forEach(function (type) {
      document.addEventListener(type, touched, { capture: true, passive: true });
    });
    touched();
  }

  // Search: a tapped key or topic updates the letters and the results in place (the links work without this).
  // The results are asked for as the finger lands (pointerdown), not when it lifts (click): on a slow board
  // the press is drawn in between, and the answer is on its way meanwhile.
  var panel = document.getElementById("search-panel");
  if (panel) {
    var pressed = null;  // the link under the finger and its results on the way
    var shown = 0;  // which tap's results may still be drawn: only the latest
    var relink = null;  // what is left of the last tap's update once its results are drawn (see below)
    // A key adds its letter to those typed, by its address: until a tap's results come, the keys still have the
    // addresses of before it. A key tapped meanwhile (a quick hand, a slow board) waits, by its place on the
    // keyboard, and is tapped again once the keys are new: D then B gives DB, never B.
    var waiting = false;
    var queued = [];
    var keys = function () { return Array.prototype.slice.call(document.querySelectorAll(".keyboard a")); };
    var next = function () {
      waiting = false;
      var place = queued.shift();
      if (place !== undefined) {
        relinkNow();
        var key = keys()[place];
        if (key) { key.click(); }
      }
    };
    var relinkNow = function () {
      if (relink) { var left = relink; relink = null; left(); }
    };
    var load = function (href) {
      var answer = fetch(href, { headers: { "X-Kiosk-Update": "search" } }).then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      });
      answer.catch(function () {});  // a press that never became a tap leaves no error behind
      return answer;
    };
    // Any touch, click or key finds every link with its new address and the address bar with the query.
    ["pointerdown", "click", "keydown"].forEach(function (type) {
      document.addEventListener(type, relinkNow, { capture: true });
    });
    panel.addEventListener("pointerdown", function (event) {
      var link = event.target.closest("a[data-search]");
      var stale = waiting && link && link.closest(".keyboard");
      pressed = link && !stale ? { href: link.href, answer: load(link.href) } : null;
    });
    panel.addEventListener("click", function (event) {
      var link = event.target.closest("a[data-search]");
      if (!link) { return; }
      event.preventDefault();
      if (waiting && link.closest(".keyboard")) {
        queued.push(keys().indexOf(link));
        return;
      }
      if (!link.closest(".keyboard")) { queued = []; }  // a topic: what was typed meanwhile no longer applies
      waiting = true;
      var href = link.href;  // the key's own address changes below, with the others
      var answer = pressed && pressed.href === href ? pressed.answer : load(href);
      var tap = shown += 1;
      pressed = null;
      answer.then(function (html) {
        if (tap !== shown) { return; }  // a later tap's results are on their way
        var page = document.createElement("template");  // parsed without a document of its own
        page.innerHTML = html;
        page = page.content;
        // Only what a tap changes is drawn again: the letters, the topics and the results. The keyboard's
        // keys and the top bar's links stay and take their new addresses (a key adds its letter to those
        // typed; the language links keep the query): a slow board draws that in about half the time.
        var kept = document.querySelectorAll(".keyboard a, .topbar a");
        var fresh = page.querySelectorAll(".keyboard a, .topbar a");
        if (kept.length === fresh.length) {
          [".search-display", ".quick-searches", ".search-results"].forEach(function (selector) {
            panel.querySelector(selector).replaceWith(page.querySelector(selector));
          });
          // The new addresses and the query in the address bar (a slow board takes as long for the address as
          // for the results) are set once the results are drawn and nothing else waits, or at the next touch:
          // nothing of them shows, and the results come that much sooner.
          relink = function () {
            kept.forEach(function (key, index) { key.setAttribute("href", fresh[index].getAttribute("href")); });
            history.replaceState(null, "", href);
          };
          if (window.requestIdleCallback) {
            requestIdleCallback(relinkNow, { timeout: 1000 });
          } else {
            setTimeout(relinkNow, 0);
          }
        } else {
          relink = null;
          panel.replaceChildren.apply(panel, Array.from(page.getElementById("search-panel").childNodes));
          document.querySelector(".topbar").replaceWith(page.querySelector(".topbar"));
          history.replaceState(null, "", href);
        }
        next();
      }).catch(function () { window.location.assign(href); });
    });
  }
})();
