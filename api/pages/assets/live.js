// The live parts of the app and deployment pages. A deployment's progress, stage and build log
// come from the seed's WebSocket (/ws/deployment/logs); the app's new deployments, whatever
// triggered them, from /ws/apps/deployments. Log lines are buffered and added once per
// animation frame, and the page keeps only the last data-log-cap lines.
"use strict";

(function () {
  const TERMINAL = ["success", "failed", "stopped", "rolled_back"];
  const RETRY_MS = 1000;

  function socketUrl(path) {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + window.location.host + path;
  }

  function text(id, value) {
    const element = document.getElementById(id);
    if (element) element.textContent = value;
    return element;
  }

  function words(value) {
    return String(value || "").replace(/_/g, " ");
  }

  // A <pre> that receives many lines: one DOM update per frame, the oldest lines dropped past
  // `cap`, and scrolled to the end only while the reader is at the end already.
  class LogView {
    constructor(element, cap, onCapped) {
      this.element = element;
      this.cap = cap;
      this.onCapped = onCapped;
      this.pending = [];
      this.scheduled = false;
      this.count = 0;
    }

    clear() {
      this.pending = [];
      this.count = 0;
      this.element.textContent = "";
    }

    add(line) {
      this.pending.push(line);
      if (this.pending.length > this.cap) this.pending.splice(0, this.pending.length - this.cap);
      if (!this.scheduled) {
        this.scheduled = true;
        // A hidden tab runs no animation frames; a timer keeps the buffer bounded there.
        if (document.hidden) window.setTimeout(() => this.flush(), 250);
        else window.requestAnimationFrame(() => this.flush());
      }
    }

    flush() {
      this.scheduled = false;
      if (!this.pending.length) return;
      const element = this.element;
      const atEnd = element.scrollTop + element.clientHeight >= element.scrollHeight - 8;
      const fragment = document.createDocumentFragment();
      for (const line of this.pending) {
        const row = document.createElement("span");
        row.className = "line";
        row.textContent = line + "\n";
        fragment.appendChild(row);
      }
      this.count += this.pending.length;
      this.pending = [];
      element.appendChild(fragment);
      let extra = this.count - this.cap;
      if (extra > 0) {
        this.count -= extra;
        while (extra-- > 0 && element.firstChild) element.removeChild(element.firstChild);
        this.onCapped();
      }
      if (atEnd) element.scrollTop = element.scrollHeight;
    }
  }

  // Shared with runtime.js (the app's runtime logs), which the app page loads after this file.
  window.fogbank = { LogView: LogView, socketUrl: socketUrl };

  // The live panel: follows one deployment at a time through the seed's socket.
  class LivePanel {
    constructor(section) {
      this.section = section;
      this.id = null;
      this.seq = 0;
      this.status = null;
      this.socket = null;
      const cap = Number(section.dataset.logCap) || 2000;
      this.log = new LogView(document.getElementById("live-log"), cap, () => {
        document.getElementById("live-cap").hidden = false;
      });
      this.listeners = [];
    }

    follow(id, number) {
      id = Number(id);
      if (!id || id === this.id) return;
      if (this.socket) this.socket.close(1000);
      this.id = id;
      this.seq = 0;
      this.status = "pending";
      this.log.clear();
      document.getElementById("live-idle").hidden = true;
      document.getElementById("live-body").hidden = false;
      document.getElementById("live-error").hidden = true;
      document.getElementById("live-cap").hidden = true;
      const link = "/deployments/" + id;
      document.getElementById("live-link").href = link;
      document.getElementById("live-full").href = link;
      if (number) text("live-number", "#" + number);
      const stop = document.getElementById("live-stop");
      if (stop) stop.dataset.body = JSON.stringify({ deploymentId: id });
      this.show({ status: "pending", stage: "", progress: 0 });
      this.connect();
    }

    connect() {
      const id = this.id;
      const query = "?deploymentId=" + id + (this.seq ? "&after=" + this.seq : "");
      const socket = new WebSocket(socketUrl("/ws/deployment/logs" + query));
      this.socket = socket;
      socket.addEventListener("message", (event) => this.receive(JSON.parse(event.data)));
      socket.addEventListener("close", (event) => {
        if (this.socket !== socket || this.id !== id) return;
        this.socket = null;
        // 1000 after the final status; anything else (a restart, too slow) resumes from seq.
        if (!TERMINAL.includes(this.status) && event.code !== 4401 && event.code !== 4403) {
          window.setTimeout(() => {
            if (this.id === id && !this.socket) this.connect();
          }, RETRY_MS);
        }
      });
    }

    receive(frame) {
      const data = frame.data || {};
      if (frame.type === "log") {
        if (data.seq <= this.seq) return;
        this.seq = data.seq;
        this.log.add(data.line);
      } else if (frame.type === "status") {
        this.show(data);
      } else if (frame.type === "error") {
        text("live-error-text", data.message || "");
        document.getElementById("live-error").hidden = false;
      }
    }

    show(data) {
      const previous = this.status;
      this.status = data.status;
      const badge = text("live-status", words(data.status));
      badge.className = "badge s-" + data.status;
      text("live-stage", words(data.stage) || "queued");
      text("live-percent", data.progress + " %");
      this.steps(data);
      const bar = document.getElementById("live-progress");
      bar.value = data.progress;
      bar.textContent = data.progress + " %";
      if (data.error_message && data.status === "failed") {
        text("live-error-text", data.error_message);
        document.getElementById("live-error").hidden = false;
      }
      const stop = document.getElementById("live-stop");
      const ended = TERMINAL.includes(data.status);
      if (stop) stop.hidden = ended;
      if (ended) this.log.flush();
      if (data.status !== previous) {
        for (const listener of this.listeners) listener(data);
      }
    }
  }

  // The steps list: stages before the current one are done (also those that ended before the
  // page connected), the current one is "now" (or "failed"), the rest are still to come.
  LivePanel.prototype.steps = function (data) {
    const items = Array.from(document.querySelectorAll("#live-stages li"));
    const order = items.map((item) => item.dataset.stage);
    const success = data.status === "success";
    let current = success ? order.length : order.indexOf(data.stage);
    if (current < 0) current = data.status === "pending" ? -1 : 0;
    items.forEach((item, index) => {
      let state = "";
      if (index < current) state = "done";
      else if (index === current) {
        state = data.status === "failed" ? "failed" : TERMINAL.includes(data.status) ? "ended" : "now";
      }
      item.className = state;
      item.querySelector(".state").textContent = state ? "(" + state + ")" : "";
      if (state === "now") item.setAttribute("aria-current", "step");
      else item.removeAttribute("aria-current");
    });
  };

  // The app page's list: refreshed when a deployment is requested or one ends.
  class AppFeed {
    constructor(element, panel) {
      this.appId = element.dataset.appId;
      this.stateSrc = element.dataset.stateSrc;
      this.panel = panel;
      this.known = 0;
      for (const row of document.querySelectorAll("[data-deployment-id]")) {
        this.known = Math.max(this.known, Number(row.dataset.deploymentId));
      }
      panel.listeners.push(() => this.refresh());
      this.connect();
    }

    connect() {
      const socket = new WebSocket(socketUrl("/ws/apps/deployments?appId=" + this.appId));
      socket.addEventListener("message", (event) => {
        const frame = JSON.parse(event.data);
        if (frame.type !== "deployment") return;
        const id = frame.data.deployment_id;
        if (id <= this.known) return;
        this.known = id;
        this.panel.follow(id, frame.data.deployment_number);
        this.refresh();
      });
      socket.addEventListener("close", (event) => {
        if (event.code !== 4401 && event.code !== 4403 && event.code !== 4404) {
          window.setTimeout(() => this.connect(), RETRY_MS);
        }
      });
    }

    async refresh() {
      const response = await fetch(this.stateSrc, { credentials: "same-origin" });
      if (!response.ok) return;
      const html = await response.text();
      const target = document.getElementById("app-state");
      const template = document.createElement("template");
      template.innerHTML = html;
      target.replaceChildren(template.content);
    }
  }

  function start() {
    const section = document.getElementById("live");
    if (!section) return;
    const panel = new LivePanel(section);
    document.addEventListener("fogbank:follow", (event) => {
      const made = event.detail || {};
      panel.follow(made.id, made.deployment_number);
    });
    const feed = document.getElementById("app-feed");
    if (feed) new AppFeed(feed, panel);
    if (section.dataset.deploymentId) {
      const number = document.getElementById("live-number").textContent.replace("#", "");
      panel.follow(section.dataset.deploymentId, number);
    }
    if (!feed) {
      // A deployment's own page: reload once it ended, to show the full log and timings.
      panel.listeners.push((data) => {
        if (TERMINAL.includes(data.status)) window.setTimeout(() => window.location.reload(), 500);
      });
    }
  }

  start();
})();
