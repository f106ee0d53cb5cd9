// The sections' own progressive enhancement (triggers, mappings, preview); every page works without it.
(function () {
  "use strict";
  var each = function (nodes, fn) { Array.prototype.forEach.call(nodes, fn); };

  // Triggers: each trigger's sentence follows the chosen pipeline, stage, document and Enabled box as they change.
  function chosenText(select) {
    var option = select && select.value !== "" ? select.selectedOptions[0] : null;
    return option ? option.textContent.trim() : "";
  }
  function emphasised(text) {
    var em = document.createElement("em");
    em.textContent = text;
    return em;
  }
  function writeSentence(fieldset) {
    var sentence = fieldset.querySelector("[data-sentence]");
    if (!sentence) { return; }
    var pipelineSelect = fieldset.querySelector('select[name$=".pipeline_id"]');
    var stageSelect = fieldset.querySelector('select[name$=".stage_id"]');
    var actionSelect = fieldset.querySelector('select[name$=".action"]');
    var enabled = fieldset.querySelector('input[type="checkbox"][name$=".enabled"]');
    if (!stageSelect || !actionSelect) { return; }  // pipeline and stage typed as numbers: the saved sentence stays
    var stage = chosenText(stageSelect);
    var pipeline = chosenText(pipelineSelect);
    if (stage && !pipeline) {
      var group = stageSelect.selectedOptions[0] && stageSelect.selectedOptions[0].parentElement;
      pipeline = group && group.tagName === "OPTGROUP" ? group.label : "";
    }
    var parts = [];
    var off = (enabled && !enabled.checked) || actionSelect.value === "none";
    if (!stage) {
      parts.push("No stage chosen yet: choose the stage that makes the draft.");
    } else {
      parts.push(off ? "Switched off: deals entering " : "Deals entering ", emphasised(stage));
      if (pipeline) { parts.push(" in ", emphasised(pipeline)); }
      if (off) {
        parts.push(" make nothing.");
      } else {
        parts.push(" become a DRAFT " + actionSelect.value + " ");
        var organisation = sentence.dataset.organisation;
        if (organisation) { parts.push("in ", emphasised(organisation), "."); } else { parts.push("in Xero, once Xero is connected."); }
      }
    }
    sentence.textContent = "";
    parts.forEach(function (part) {
      sentence.appendChild(typeof part === "string" ? document.createTextNode(part) : part);
    });
    if (sentence.hidden && (stage || pipeline)) { sentence.hidden = false; }
  }
  each(document.querySelectorAll("fieldset.trigger"), function (fieldset) {
    fieldset.addEventListener("change", function () {
      // app.js empties a stage of another pipeline on the same event; write the sentence after it has run.
      window.setTimeout(function () { writeSentence(fieldset); }, 0);
    });
  });
  // "When a deal is marked won": the same, with the pipeline alone.
  function writeWonSentence(fieldset) {
    var sentence = fieldset.querySelector("[data-won-sentence]");
    var pipelineSelect = fieldset.querySelector('select[name$=".pipeline_id"]');
    var actionSelect = fieldset.querySelector('select[name$=".action"]');
    var enabled = fieldset.querySelector('input[type="checkbox"][name$=".enabled"]');
    if (!sentence || !pipelineSelect || !actionSelect) { return; }
    var pipeline = chosenText(pipelineSelect);
    var off = (enabled && !enabled.checked) || actionSelect.value === "none";
    var parts = [];
    if (!pipeline) {
      parts.push("No pipeline chosen yet: choose the pipeline whose won deals make the draft.");
    } else if (off) {
      parts.push("Switched off: deals marked won in ", emphasised(pipeline), " make nothing.");
    } else {
      parts.push("Deals marked won in ", emphasised(pipeline), " become a DRAFT " + actionSelect.value + " ");
      var organisation = sentence.dataset.organisation;
      if (organisation) { parts.push("in ", emphasised(organisation), "."); } else { parts.push("in Xero, once Xero is connected."); }
    }
    sentence.textContent = "";
    parts.forEach(function (part) {
      sentence.appendChild(typeof part === "string" ? document.createTextNode(part) : part);
    });
    if (sentence.hidden && pipeline) { sentence.hidden = false; }
  }
  each(document.querySelectorAll("fieldset.won-trigger"), function (fieldset) {
    fieldset.addEventListener("change", function () { writeWonSentence(fieldset); });
  });

  // Field mappings: "Insert a field" appends the chosen field's placeholder to its template input.
  each(document.querySelectorAll("select[data-insert-into]"), function (select) {
    var target = document.getElementById(select.dataset.insertInto);
    if (!target) { return; }
    select.hidden = false;
    var label = document.querySelector('label[for="' + select.id + '"]');
    if (label) { label.hidden = false; }
    select.addEventListener("change", function () {
      if (!select.value) { return; }
      var text = target.value;
      target.value = text + (text && !/\s$/.test(text) ? " " : "") + select.value;
      select.value = "";
      target.focus();
      target.dispatchEvent(new Event("input", { bubbles: true }));
    });
  });

  // Preview: choosing a recent deal fills the number box (the number box alone works without this).
  var recent = document.getElementById("f-recent_deal");
  var number = document.getElementById("f-deal_id");
  if (recent && number) {
    recent.addEventListener("change", function () { if (recent.value) { number.value = ""; } });
    number.addEventListener("input", function () { if (number.value) { recent.value = ""; } });
  }
})();
