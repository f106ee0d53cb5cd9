// A little progressive enhancement; every page works without it.
(function () {
  "use strict";
  // Inside Pipedrive: initialise the app extensions SDK (Pipedrive waits at most 10 s for it) on every page.
  var sdkId = document.body.dataset.sdkId;
  if (sdkId && window.parent !== window && window.AppExtensionsSDK) {
    try {
      new window.AppExtensionsSDK({ identifier: sdkId }).initialize().catch(function () {});
    } catch (e) { /* not framed by Pipedrive: nothing to initialise */ }
  }
  // Destructive buttons ask first.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = button && button.dataset.confirm;
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
  // Errors: focus the summary so keyboard and screen-reader users land on it.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
  // The Xero window tells the page it opened that the connection changed: show it.
  window.addEventListener("message", function (event) {
    if (event.origin === window.location.origin && event.data === "pdx-xero-connected") {
      window.location.assign("/app/connections?saved=connected");
    }
  });
})();
// Triggers: a stage picker offers only the stages of the pipeline chosen beside it (all stages stay valid without JS).
(function () {
  "use strict";
  function narrow(pipelineSelect) {
    var fieldset = pipelineSelect.closest("fieldset");
    var stageSelect = fieldset && fieldset.querySelector('select[name$=".stage_id"]');
    if (!stageSelect) { return; }
    var chosen = pipelineSelect.value;
    Array.prototype.forEach.call(stageSelect.querySelectorAll("optgroup[data-pipeline]"), function (group) {
      var other = chosen !== "" && group.dataset.pipeline !== chosen;
      group.hidden = other;
      group.disabled = other;
    });
    var selected = stageSelect.selectedOptions[0];
    if (selected && selected.parentElement.disabled) { stageSelect.value = ""; }
  }
  Array.prototype.forEach.call(document.querySelectorAll('select[name$=".pipeline_id"]'), function (select) {
    narrow(select);
    select.addEventListener("change", function () { narrow(select); });
  });
})();
