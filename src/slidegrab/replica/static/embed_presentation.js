/* SlidesLive embed loader (replica). Defines window.SlidesLiveEmbed(containerId, options): asks
 * /embed/init for an embed_init_token, then puts an iframe to /embed/presentation/{id}?… (js_embed_version=3)
 * into the container. Options become query parameters (autoPlay -> auto_play, …). */
(function () {
  "use strict";
  if (window.SlidesLiveEmbed) return;

  var HOST = "https://slideslive.com";
  // The v3 parameter list, in the order SlidesLive writes it, with its defaults.
  var PARAMS = [
    ["autoLoad", "auto_load", true],
    ["autoPlay", "auto_play", false],
    ["zoomRatio", "zoom_ratio", ""],
    ["disableFullscreen", "disable_fullscreen", false],
    ["locale", "locale", "en"],
    ["verticalEnabled", "vertical_enabled", false],
    ["verticalEnabledOnMobile", "vertical_enabled_on_mobile", false],
    ["allowHiddenControlsWhenPaused", "allow_hidden_controls_when_paused", false],
    ["fitToViewport", "fit_to_viewport", true],
    ["customUserId", "custom_user_id", ""],
  ];
  var KNOWN = {presentationId: true};
  PARAMS.forEach(function (p) { KNOWN[p[0]] = true; });

  function snake(name) {
    return name.replace(/[A-Z]/g, function (c) { return "_" + c.toLowerCase(); });
  }

  function whenReady(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
    else fn();
  }

  function SlidesLiveEmbed(containerId, options) {
    if (!(this instanceof SlidesLiveEmbed)) return new SlidesLiveEmbed(containerId, options);
    this.containerId = containerId;
    this.options = options || {};
    this.iframe = null;
    var self = this;
    this.ready = new Promise(function (resolve) { whenReady(function () { resolve(self.load()); }); });
  }

  SlidesLiveEmbed.prototype.init = function () {
    var query = new URLSearchParams({embed_parent_url: window.location.href, embed_origin: window.location.origin});
    return fetch(HOST + "/embed/init?" + query.toString(), {credentials: "include"})
      .then(function (r) { return r.ok ? r.json() : {}; })
      .catch(function () { return {}; });
  };

  SlidesLiveEmbed.prototype.src = function (init) {
    var o = this.options, q = new URLSearchParams();
    q.append("js_embed_version", "3");
    q.append("embed_init_token", init.embed_init_token || "");
    q.append("embed_parent_url", window.location.href);
    q.append("embed_origin", window.location.origin);
    q.append("embed_container_id", this.containerId);
    PARAMS.forEach(function (p) { q.append(p[1], String(p[0] in o ? o[p[0]] : p[2])); });
    q.append("user_uuid", init.user_uuid || "");
    Object.keys(o).forEach(function (k) { if (!KNOWN[k]) q.append(snake(k), String(o[k])); });
    return HOST + "/embed/presentation/" + encodeURIComponent(String(o.presentationId)) + "?" + q.toString();
  };

  SlidesLiveEmbed.prototype.load = function () {
    var self = this;
    return this.init().then(function (init) {
      var container = document.getElementById(self.containerId);
      if (!container) throw new Error("SlidesLiveEmbed: no element #" + self.containerId);
      var iframe = document.createElement("iframe");
      iframe.id = self.containerId + "-iframe";
      iframe.src = self.src(init);
      iframe.setAttribute("allow", "autoplay; fullscreen; picture-in-picture; clipboard-write");
      iframe.setAttribute("frameborder", "0");
      iframe.style.cssText = "width:100%;aspect-ratio:16/9;border:0;";
      container.appendChild(iframe);
      self.iframe = iframe;
      return iframe;
    });
  };

  window.SlidesLiveEmbed = SlidesLiveEmbed;
})();
