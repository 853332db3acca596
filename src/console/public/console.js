/* global document, window */
// The console's own script (served from /console/static, never inline): asks before the actions that stop or
// widen work across an installation. Everything else works without it.
(function () {
  "use strict";
  var CONFIRM = {
    halt: "Halt all work in this installation?",
    resume: "Resume all work in this installation?",
    suspend: "Suspend this employee everywhere in this installation?",
  };
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var verb = form && form.getAttribute ? form.getAttribute("data-verb") : null;
    if (verb && CONFIRM[verb] && !window.confirm(CONFIRM[verb])) event.preventDefault();
  });
})();
