/* The studio's form: the flowchart beside it is drawn again, as the kiosk draws it, a moment after the clerk
   stops typing or choosing (without this, the "Draw the flowchart" button does the same); and a step's
   new title shows at once in the lists that choose where an outcome or a jump leads. */
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
  var retitle = function (event) {
    var named = /^steps\.(\d+)\.title$/.exec(event.target.name || "");
    if (!named) { return; }
    var id = form.elements["steps." + named[1] + ".id"];
    if (!id || !id.value) { return; }
    var label = (Number(named[1]) + 1) + ". " + event.target.value;
    form.querySelectorAll("option").forEach(function (option) {
      if (option.value === id.value) { option.textContent = label; }
    });
  };
  form.addEventListener("input", redraw);
  form.addEventListener("input", retitle);
  form.addEventListener("change", redraw);
})();
