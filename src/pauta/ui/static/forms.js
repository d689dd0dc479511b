// pauta web UI: the trigger form's list parameters, one input per item, with buttons to add
// and remove rows. Handlers are attached here (the Content-Security-Policy runs no inline
// script); without JavaScript the form still posts the rows it was rendered with.
(function () {
  "use strict";

  var next = 0;

  function addRow(list) {
    var template = list.querySelector("template");
    var rows = list.querySelector(".list-rows");
    if (!template || !rows) return;
    var row = template.content.firstElementChild.cloneNode(true);
    // a fresh id for the new input, unique on the page
    var suffix = "new" + (next++);
    row.querySelectorAll("[id]").forEach(function (el) {
      el.id = el.id.replace("__N__", suffix);
    });
    rows.appendChild(row);
    var input = row.querySelector("input, select, textarea");
    if (input) input.focus();
  }

  function removeRow(button) {
    var row = button.closest(".list-row");
    var list = button.closest("[data-list]");
    if (!row || !list) return;
    row.remove();
    var add = list.querySelector("[data-add-row]");
    if (add) add.focus();
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    var add = target.closest("[data-add-row]");
    if (add) {
      event.preventDefault();
      addRow(add.closest("[data-list]"));
      return;
    }
    var remove = target.closest("[data-remove-row]");
    if (remove) {
      event.preventDefault();
      removeRow(remove);
    }
  });
})();
