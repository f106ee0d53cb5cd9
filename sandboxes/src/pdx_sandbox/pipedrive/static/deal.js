/* The sandbox deal page's JSON modals (see ../deal_page.py): the actions menu opens a modal filled from the
   sandbox's GET (which called the app's modal URL); the primary button POSTs the block values through the sandbox,
   then shows the success message in a snackbar and reloads the panel, or the error message inside the modal. */
(function () {
  "use strict";
  var body = document.body;
  var dialog = document.getElementById("modal");
  var title = document.getElementById("modal-title");
  var content = document.getElementById("modal-body");
  var error = document.getElementById("modal-error");
  var primary = document.getElementById("modal-primary");
  var snackbar = document.getElementById("app-snackbar");
  var who = new URLSearchParams({ company_id: body.dataset.companyId, user_id: body.dataset.userId });
  var base = "/host/deal/" + body.dataset.dealId;
  var current = null;
  var snackbarTimer = null;

  function modalUrl(name) {
    var query = new URLSearchParams(who);
    query.set("name", name);
    return base + "/modal?" + query.toString();
  }

  function showError(message) {
    error.textContent = message;
    error.hidden = false;
    body.dataset.modalState = "error";
  }

  function open(name) {
    current = { name: name, values: {} };
    title.textContent = name;
    content.innerHTML = '<p class="muted">Loading…</p>';
    error.hidden = true;
    primary.disabled = true;
    primary.textContent = name;
    body.dataset.modalState = "loading";
    document.querySelector(".panel-menu").open = false;
    dialog.showModal();
    fetch(modalUrl(name), { cache: "no-store" }).then(function (r) { return r.json(); }).then(function (answer) {
      if (!answer.ok) { content.innerHTML = ""; showError(answer.message); return; }
      current.values = answer.values || {};
      content.innerHTML = answer.blocks.map(function (b) {
        return '<div class="block" data-block="' + b.key.replace(/"/g, "") + '">' + b.html + "</div>";
      }).join("");  // the sandbox built this HTML from the markdown, escaping everything else
      primary.textContent = answer.primary;
      primary.disabled = false;
      body.dataset.modalState = "ready";
    }, function () { showError("Something went wrong, please try again."); });
  }

  function reloadPanel() {
    return fetch(base + "/panel?" + who.toString(), { cache: "no-store" }).then(function (r) { return r.text(); })
      .then(function (text) { document.getElementById("panel-body").innerHTML = text; });
  }

  function showSnackbar(message, link) {
    snackbar.textContent = message;
    if (link) {
      var a = document.createElement("a");
      a.href = link.url; a.target = "_blank"; a.rel = "noopener"; a.textContent = link.label;
      snackbar.appendChild(document.createTextNode(" ")); snackbar.appendChild(a);
    }
    snackbar.hidden = false;
    body.dataset.lastSnackbar = message;
    window.clearTimeout(snackbarTimer);
    snackbarTimer = window.setTimeout(function () { snackbar.hidden = true; }, 8000);
  }

  function submit() {
    if (!current) return;
    primary.disabled = true;
    error.hidden = true;
    body.dataset.modalState = "submitting";
    fetch(modalUrl(current.name), { method: "POST", headers: { "Content-Type": "application/json" },
                                    body: JSON.stringify(current.values) })
      .then(function (r) { return r.json(); }).then(function (answer) {
        if (!answer.ok) { primary.disabled = false; showError(answer.message); return; }
        dialog.close();
        body.dataset.modalState = "closed";
        showSnackbar(answer.message, answer.link);
        return reloadPanel();
      }, function () { primary.disabled = false; showError("Something went wrong, please try again."); });
  }

  document.querySelectorAll("[data-modal]").forEach(function (button) {
    button.addEventListener("click", function () { open(button.dataset.modal); });
  });
  primary.addEventListener("click", submit);
  document.getElementById("modal-cancel").addEventListener("click", function () {
    dialog.close(); body.dataset.modalState = "closed";
  });
  body.dataset.dealScript = "ready";
})();
