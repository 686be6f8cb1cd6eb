/* Herald admin: the trigger form shows the message fields of the chosen channel only. */
(function () {
  "use strict";
  function sync() {
    var select = document.getElementById("channel");
    var channel = select ? select.value : "email";
    document.querySelectorAll("[data-channel]").forEach(function (box) {
      box.classList.toggle("d-none", box.getAttribute("data-channel") !== channel);
    });
  }
  function start() {
    var select = document.getElementById("channel");
    if (select) { select.addEventListener("change", sync); }
    sync();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
