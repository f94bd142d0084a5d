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
  var retitleStep = function (title) {
    var named = /^steps\.(\d+)\.title$/.exec(title.name || "");
    if (!named) { return; }
    var id = form.elements["steps." + named[1] + ".id"];
    if (!id || !id.value) { return; }
    var label = (Number(named[1]) + 1) + ". " + title.value;
    form.querySelectorAll("option").forEach(function (option) {
      if (option.value === id.value) { option.textContent = label; }
    });
  };
  form.addEventListener("input", redraw);
  form.addEventListener("input", function (event) { retitleStep(event.target); });
  form.addEventListener("change", redraw);
  // A title typed before this script ran (it runs once the page has loaded: a slow board, or a quick hand)
  // fired its input event with nobody listening: show it in the lists now.
  form.querySelectorAll("input[name^='steps.']").forEach(function (input) {
    if (input.value !== input.defaultValue) { retitleStep(input); }
  });
})();

/* A guide's form: where each answer may lead is chosen from the guide's questions and endings by their words;
   a question or an ending given an id, or new words, shows at once in those lists (without this, the form's
   "update" button redraws them on the server). */
(function () {
  "use strict";
  var form = document.getElementById("item-form");
  if (!form || !form.querySelector("select[data-guide-target]")) { return; }
  var names = { questions: "ask", endings: "title" };
  var retarget = function (event) {
    if (!/^(questions|endings)\.\d+\.(id|ask|title)$/.test(event.target.name || "")) { return; }
    var choices = [];
    ["questions", "endings"].forEach(function (kind) {
      for (var n = 0; form.elements[kind + "." + n + ".id"]; n += 1) {
        var id = form.elements[kind + "." + n + ".id"].value.trim();
        var words = form.elements[kind + "." + n + "." + names[kind]];
        if (id) { choices.push({ id: id, kind: kind, number: n + 1, words: words ? words.value : "" }); }
      }
    });
    form.querySelectorAll("select[data-guide-target]").forEach(function (select) {
      var chosen = select.value;
      var template = select.dataset;
      while (select.options.length > 1) { select.remove(1); }
      choices.forEach(function (choice) {
        var label = (choice.kind === "questions" ? template.question : template.ending)
          .replace("{n}", choice.number).replace("{t}", choice.words);
        select.add(new Option(label, choice.id, false, choice.id === chosen));
      });
      if (chosen && select.value !== chosen) { select.add(new Option(chosen, chosen, false, true)); }
    });
  };
  form.addEventListener("input", retarget);
})();
