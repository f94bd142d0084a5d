/* The studio's form: the flowchart beside it is drawn again, as the kiosk draws it, a moment after the clerk
   stops typing or choosing (without this, the "Draw the flowchart" button does the same). */
(function () {
  "use strict";
  var form = document.getElementById("item-form");
  var draw = document.getElementById("draw-flowchart");
  if (!form || !draw || !form.requestSubmit) { return; }
  var timer = null;
  var redraw = function (event) {
    if (!event.target.name || event.target.name.indexOf("steps.") !== 0) { return; }
    clearTimeout(timer);
    timer = setTimeout(function () { form.requestSubmit(draw); }, 400);
  };
  form.addEventListener("input", redraw);
  form.addEventListener("change", redraw);
})();
