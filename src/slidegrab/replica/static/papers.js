/* Mini-Conf-style paper list (replica): links exist only after this script has fetched papers.json. */
document.addEventListener("DOMContentLoaded", function () {
  fetch("papers.json", {credentials: "same-origin"})
    .then(function (r) { return r.json(); })
    .then(function (papers) {
      var list = document.getElementById("papers");
      papers.forEach(function (paper) {
        var item = document.createElement("li");
        item.className = "paper paper--" + paper.kind;
        var link = document.createElement("a");
        link.setAttribute("href", paper.url);
        link.textContent = paper.title;
        item.appendChild(link);
        if (paper.authors) {
          var by = document.createElement("span");
          by.className = "paper__authors";
          by.textContent = " \u2014 " + paper.authors.join(", ");
          item.appendChild(by);
        }
        list.appendChild(item);
      });
      document.querySelector(".loading").remove();
      document.body.setAttribute("data-papers-loaded", String(papers.length));
    });
});
