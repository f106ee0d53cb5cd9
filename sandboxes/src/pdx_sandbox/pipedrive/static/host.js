/* The sandbox's stand-in for Pipedrive's side of @pipedrive/app-extensions-sdk (see ../host.py).
   The app's iframe posts {payload: {type, command, args} | {type: "track", event} | {type: "listener", event},
   id} to its parent with a MessagePort; commands are answered on that port with {data} or {error}. */
(function () {
  "use strict";
  var body = document.body;
  var frame = document.getElementById("app-frame");
  var status = document.getElementById("app-status");
  var snackbar = document.getElementById("app-snackbar");
  var frameId = body.dataset.frameId;
  var timeoutMs = Number(body.dataset.initTimeoutMs || 10000);
  var initialised = false;
  var listeners = {};
  var snackbarTimer = null;
  var log = (window.hostLog = []); // every message the app sent, for tests

  function setStatus(text, state) {
    status.textContent = text;
    status.dataset.state = state;
  }

  var initTimer = window.setTimeout(function () {
    if (initialised) return;
    body.dataset.appInitialised = "false";
    body.dataset.appError = "timeout";
    frame.classList.add("unresponsive");
    setStatus("The app did not respond. It did not initialise within " + timeoutMs / 1000 +
      " seconds; try again later or contact the app's developer.", "error");
  }, timeoutMs);

  function resize(size) {
    if (size && Number(size.height) > 0) frame.style.height = Number(size.height) + "px";
    if (size && Number(size.width) > 0) frame.style.width = Number(size.width) + "px";
  }

  function showSnackbar(args) {
    snackbar.textContent = String((args && args.message) || "");
    snackbar.hidden = false;
    body.dataset.lastSnackbar = snackbar.textContent;
    window.clearTimeout(snackbarTimer);
    snackbarTimer = window.setTimeout(function () { snackbar.hidden = true; }, 5000);
  }

  function freshToken() {
    var params = new URLSearchParams({ company_id: body.dataset.companyId, user_id: body.dataset.userId });
    return fetch("/host/token?" + params.toString(), { cache: "no-store" }).then(function (response) {
      if (!response.ok) throw new Error("Could not get a signed token (HTTP " + response.status + ")");
      return response.json();
    }).then(function (answer) { return { token: answer.token }; });
  }

  function answer(command, args) {
    switch (command) {
      case "initialize":
        if (!initialised) {
          initialised = true;
          window.clearTimeout(initTimer);
          frame.classList.remove("loading", "unresponsive");
          body.dataset.appInitialised = "true";
          delete body.dataset.appError;
          setStatus("App initialised", "ok");
        }
        if (args && args.size) resize(args.size);
        return Promise.resolve({});
      case "get_signed_token":
        return freshToken();
      case "resize":
        resize(args || {});
        return Promise.resolve({});
      case "show_snackbar":
        showSnackbar(args);
        return Promise.resolve({});
      case "show_confirmation":
        return Promise.resolve({ confirmed: true });
      case "open_modal":
        return Promise.resolve({ status: "closed" });
      case "get_metadata":
        return Promise.resolve({ windowHeight: window.innerHeight });
      default:
        return Promise.resolve({});
    }
  }

  window.addEventListener("message", function (event) {
    if (event.source !== frame.contentWindow) return;
    var message = event.data;
    if (!message || typeof message !== "object" || !message.payload || typeof message.payload !== "object") return;
    var payload = message.payload;
    var port = event.ports && event.ports[0];
    var entry = { type: payload.type, command: payload.command || payload.event || null,
                  args: payload.args === undefined ? null : payload.args, ignored: message.id !== frameId };
    log.push(entry);
    if (entry.ignored) return; // not this frame's identifier: Pipedrive does not answer
    if (payload.type === "track") return;
    if (payload.type === "listener") {
      if (port) (listeners[payload.event] = listeners[payload.event] || []).push(port);
      return;
    }
    if (payload.type !== "command" || !port) return;
    body.dataset.lastCommand = payload.command;
    answer(payload.command, payload.args).then(function (data) {
      port.postMessage({ data: data });
    }, function (error) {
      port.postMessage({ error: String((error && error.message) || error) });
    });
  });

  // Like Pipedrive, listen first and only then load the app: on a busy machine the app's "initialize" can
  // otherwise arrive before this script listens, and be lost.
  frame.src = frame.dataset.src;
})();
