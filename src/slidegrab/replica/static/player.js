/* SlidesLive player (replica): just enough of the real one for people and headless scrapers.
 * Reads the token from #player, fetches /player/{id}, parses its #EXT-SL-* tags, fetches the slides JSON
 * (the XML when that fails), the video-slide data when the deck has video slides, and renders the slide
 * DOM that scrapers look for. Next: .slp__bigButton--next or Shift+ArrowRight. */
(function () {
  "use strict";
  var mount = document.getElementById("player");
  if (!mount) return;
  var id = mount.getAttribute("data-presentation-id");
  var token = mount.getAttribute("data-player-token");
  var hosts = (window.gon && window.gon.hosts) || {};
  var slidesHost = hosts.slideslive_on_the_fly_resized_slides_host || "slides.slideslive.com";
  var state = {info: {}, slides: [], index: 0, source: "", qualities: [], clips: {}};
  var ui = build();

  function el(tag, attrs, parent) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function build() {
    var root = el("div", {"class": "slp__root", "data-slp-target": "rootElement"}, mount);
    var slides = el("div", {"class": "slp__slidesPlayer"}, root);
    var content = el("div", {"class": "slp__slidesPlayer__content", "data-slp-target": "slidesElement"}, slides);
    var image = el("img", {"alt": "", "class": "slp__slide"}, content);
    var media = el("div", {"class": "slp__videoPlayer", "data-slp-target": "videoElement"}, root);
    var bar = el("div", {"class": "slp__controls"}, root);
    var prev = el("button", {"type": "button", "class": "slp__bigButton slp__bigButton--prev", "data-slp-target": "prev"}, bar);
    var play = el("button", {"type": "button", "class": "slp__bigButton slp__bigButton--play", "data-slp-target": "play"}, bar);
    var next = el("button", {"type": "button", "class": "slp__bigButton slp__bigButton--next", "data-slp-target": "next"}, bar);
    prev.textContent = "\u2039"; play.textContent = "\u25B6"; next.textContent = "\u203A";
    var counter = el("span", {"class": "slp__counter"}, bar);
    var current = el("span", {"data-slp-target": "currentSlide"}, counter);
    counter.appendChild(document.createTextNode(" / "));
    var count = el("span", {"data-slp-target": "slideCount"}, counter);
    prev.addEventListener("click", function () { show(state.index - 1, true); });
    next.addEventListener("click", function () { show(state.index + 1, true); });
    play.addEventListener("click", function () { if (ui.video && ui.video.play) ui.video.play().catch(function () {}); });
    document.addEventListener("keydown", function (e) {
      if (!e.shiftKey) return;
      if (e.key === "ArrowRight") { show(state.index + 1, true); e.preventDefault(); }
      if (e.key === "ArrowLeft") { show(state.index - 1, true); e.preventDefault(); }
    });
    return {root: root, content: content, image: image, media: media, current: current, count: count, video: null};
  }

  function parsePlayer(text) {
    var info = {};
    text.split("\n").forEach(function (line) {
      if (line.indexOf("#EXT-SL-") !== 0) return;
      var colon = line.indexOf(":");
      if (colon > 0) info[line.slice(8, colon)] = line.slice(colon + 1);
    });
    return info;
  }

  function jsonTag(value) {
    try { return JSON.parse(value || "[]"); } catch (e) { return []; }
  }

  function fetchOk(url) {
    return fetch(url).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status + " for " + url);
      return r;
    });
  }

  function fromJson(deck) {
    state.source = "json";
    state.qualities = deck.slide_qualities || [];
    return (deck.slides || []).map(function (s) {
      if (s.type === "video" || !s.image) return {time: s.time, video: s.video || {}};
      return {time: s.time, name: s.image.name, ext: s.image.extname || ""};
    });
  }

  function fromXml(text) {
    state.source = "xml";
    var doc = new DOMParser().parseFromString(text, "application/xml");
    return Array.prototype.map.call(doc.querySelectorAll("slide"), function (s) {
      var ms = parseFloat(s.querySelector("time").textContent);
      return {time: Math.round(ms), name: s.querySelector("slideName").textContent, ext: ".jpg"};
    });
  }

  function loadSlides(info) {
    var jsonUrl = info["VOD-SLIDES-JSON-URL"], xmlUrl = info["VOD-SLIDES-XML-URL"];
    var first = jsonUrl ? fetchOk(jsonUrl).then(function (r) { return r.json(); }).then(fromJson)
                        : Promise.reject(new Error("no slides JSON"));
    return first.catch(function () {
      if (!xmlUrl) return [];
      return fetchOk(xmlUrl).then(function (r) { return r.text(); }).then(fromXml);
    }).catch(function () { return []; });
  }

  function loadClips(slides) {
    var clips = slides.filter(function (s) { return s.video && s.video.id; }).map(function (s) { return s.video.id; });
    var url = mount.getAttribute("data-slides-video-service-data-url");
    if (!clips.length || !url) return Promise.resolve({});
    return fetchOk(url + "&videos=" + encodeURIComponent(clips.join(",")))
      .then(function (r) { return r.json(); }).catch(function () { return {}; });
  }

  function imageUrl(s) {
    var base = "https://cdn.slideslive.com/data/presentations/" + id + "/slides/";
    if (state.source === "xml") return base + "big/" + s.name + ".jpg";
    if (state.qualities.length) return base + state.qualities[0] + "/" + s.name + (s.ext || ".jpg");
    var ext = s.ext || ".png";
    if (slidesHost === "rs.slideslive.com") {
      return "https://rs.slideslive.com/" + id + "/slides/" + s.name + ext + "?h=1080&f=" + ext.slice(1) + "&s=lambda&accelerate_s3=1";
    }
    var url = "https://" + slidesHost + "/" + id + "/slides/original/" + s.name + ext;
    return /b-cdn\.net$/.test(slidesHost) ? url + "?class=1080" : url;
  }

  function show(index, seek) {
    if (!state.slides.length) return;
    index = Math.max(0, Math.min(state.slides.length - 1, index));
    state.index = index;
    var slide = state.slides[index];
    var old = ui.content.querySelector("video");
    if (old) old.remove();
    if (slide.video) {
      ui.image.removeAttribute("src");
      ui.image.setAttribute("data-slide-type", "video");
      var servers = (state.clips[slide.video.id] || {}).video_servers || [];
      if (servers.length) {
        el("video", {"class": "slp__slideVideo", "data-slp-target": "slideVideo", "muted": "", "preload": "none",
                     "src": "https://" + servers[0] + "/" + slide.video.id + "/master.m3u8"}, ui.content);
      }
    } else {
      ui.image.setAttribute("data-slide-type", "image");
      ui.image.src = imageUrl(slide);
    }
    ui.current.textContent = String(index + 1);
    if (seek && ui.video && "currentTime" in ui.video) {
      try { ui.video.currentTime = slide.time / 1000; } catch (e) { /* not loaded yet */ }
    }
    beacon("player_session_events", {event: "slide", slide: index + 1});
  }

  function addMedia(info) {
    var service = (info["VOD-VIDEO-SERVICE-NAME"] || "").toLowerCase(), vid = info["VOD-VIDEO-ID"] || "";
    var servers = jsonTag(info["VOD-VIDEO-SERVERS"]);
    if (service === "yoda" && servers.length) {
      ui.video = el("video", {"data-slp-target": "video", "controls": "", "preload": "none",
                              "poster": info["PRESENTATION-THUMBNAIL"] || "",
                              "src": "https://" + servers[0] + "/" + vid + "/master.m3u8"}, ui.media);
    } else if (service === "url") {
      ui.video = el("video", {"data-slp-target": "video", "controls": "", "preload": "none", "src": vid}, ui.media);
    } else if (service === "vimeo") {
      el("iframe", {"data-slp-target": "vimeo", "allow": "autoplay; fullscreen", "frameborder": "0",
                    "src": "https://player.vimeo.com/video/" + vid + "?autopause=0&byline=0&portrait=0&title=0&dnt=1"}, ui.media);
    } else if (service === "youtube") {
      // The real player embeds YouTube here; the replica does not imitate YouTube.
      el("div", {"data-slp-target": "youtube", "data-video-id": vid}, ui.media);
    }
    if (ui.video) {
      ui.video.addEventListener("timeupdate", function () {
        var ms = ui.video.currentTime * 1000, at = 0;
        state.slides.forEach(function (s, i) { if (s.time <= ms) at = i; });
        if (at !== state.index) show(at, false);
      });
    }
  }

  function beacon(path, data) {
    var body = JSON.stringify(Object.assign({presentation_id: id}, data || {}));
    fetch("https://slideslive.com/" + path, {method: "POST", body: body, keepalive: true,
                                              headers: {"Content-Type": "application/json"}}).catch(function () {});
  }

  function fail(message) {
    ui.root.classList.add("slp--error");
    ui.root.setAttribute("data-slp-error", message);
    el("p", {"class": "slp__error"}, ui.root).textContent = "This presentation could not be loaded (" + message + ").";
  }

  fetch("/player/" + id + "?player_token=" + encodeURIComponent(token))
    .then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.text();
    })
    .then(function (text) {
      state.info = parsePlayer(text);
      var title = state.info["PRESENTATION-TITLE"];
      if (title) ui.root.setAttribute("data-title", title);
      addMedia(state.info);
      return loadSlides(state.info);
    })
    .then(function (slides) {
      state.slides = slides;
      ui.count.textContent = String(slides.length);
      return loadClips(slides);
    })
    .then(function (clips) {
      state.clips = clips || {};
      show(0, false);
      ui.root.classList.add("slp--liveStarted");
      beacon("player_session", {event: "start"});
    })
    .catch(function (e) { fail(e.message); });
})();
