/* The search page and /embed: mount the box. A file of its own, not an inline
 * script, so that the page's Content-Security-Policy can forbid inline scripts. */
(function () {
  "use strict";
  // /embed is the same box without the page around it, for an <iframe>.
  if (location.pathname.replace(/\/$/, "") === "/embed") document.body.classList.add("embedded");
  PolicyQA.mount(document.getElementById("policyqa-app"), { api: "" });
})();
