// Rows stay visible when at least one card of a shown model carries a checked status; cards of
// hidden models disappear, cards that do not match are faded.
(function () {
  var form = document.getElementById("filters");
  var samples = Array.prototype.slice.call(document.querySelectorAll("article.sample"));
  function checked(name) {
    var out = {};
    form.querySelectorAll("input[name=" + name + "]").forEach(function (box) {
      if (box.checked) { out[box.value] = true; }
    });
    return out;
  }
  function apply() {
    var statuses = checked("status"), models = checked("model"), shown = 0;
    // every status ticked = no status filter, so answers without a status show too
    var everything = Object.keys(statuses).length ===
      form.querySelectorAll("input[name=status]").length;
    samples.forEach(function (sample) {
      var any = false;
      sample.querySelectorAll("section.card").forEach(function (card) {
        var visible = models[card.getAttribute("data-model")] === true;
        var tags = (card.getAttribute("data-tags") || "").split(" ");
        var match = visible && (everything ||
          tags.some(function (t) { return statuses[t] === true; }));
        card.classList.toggle("hidden", !visible);
        card.classList.toggle("dim", visible && !match);
        any = any || match;
      });
      sample.classList.toggle("hidden", !any);
      if (any) { shown += 1; }
    });
    document.getElementById("shown").textContent = String(shown);
  }
  form.addEventListener("change", apply);
  form.querySelectorAll("button[data-set]").forEach(function (button) {
    button.addEventListener("click", function () {
      var on = button.getAttribute("data-to") === "all";
      form.querySelectorAll("input[name=" + button.getAttribute("data-set") + "]")
        .forEach(function (box) { box.checked = on; });
      apply();
    });
  });
  apply();
})();
