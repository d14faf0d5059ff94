/* A poster page whose SlidesLive embed exists only once this script has run (replica): it fetches the
 * talk's presentation id from the JSON its container names, then loads embed_presentation.js and embeds it. */
document.addEventListener("DOMContentLoaded", function () {
  var container = document.querySelector("[data-talk-src]");
  fetch(container.getAttribute("data-talk-src"), {credentials: "same-origin"})
    .then(function (r) { return r.json(); })
    .then(function (talk) {
      var loader = document.createElement("script");
      loader.src = "https://slideslive.com/embed_presentation.js";
      loader.onload = function () {
        new SlidesLiveEmbed(container.id, {presentationId: talk.presentationId, autoPlay: false});
      };
      document.head.appendChild(loader);
    });
});
