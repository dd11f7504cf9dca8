// The app page's runtime logs: what the container serving the app prints, through
// /ws/apps/logs, which follows the app across deployments (a status line says when another
// container takes over). Follow opens the socket; a dropped one (server restart, too slow)
// resumes after the last line shown (?since=), so no line is shown twice.
"use strict";

(function () {
  const RETRY_MS = 1000;
  // After a reconnect: every line since the last one shown, not only the last `tail`.
  const RESUME_TAIL = 5000;
  // Closes that end the follow: normal (the app was deleted), no credentials, role, no app.
  const FINAL = [1000, 4401, 4403, 4404];

  class RuntimeLogs {
    constructor(section, shared) {
      this.appId = section.dataset.appId;
      this.tail = Number(section.dataset.tail) || 200;
      this.shared = shared;
      this.button = document.getElementById("runtime-follow");
      this.status = document.getElementById("runtime-status");
      this.element = document.getElementById("runtime-log");
      const cap = Number(section.dataset.logCap) || 2000;
      this.log = new shared.LogView(this.element, cap, () => {
        document.getElementById("runtime-cap").hidden = false;
      });
      this.socket = null;
      this.since = null;
      this.button.addEventListener("click", () => (this.socket ? this.stop() : this.start()));
    }

    start() {
      this.log.clear();
      this.since = null;
      this.element.hidden = false;
      this.button.textContent = "Stop following";
      this.button.setAttribute("aria-pressed", "true");
      this.say("Connecting…");
      this.connect(this.tail);
    }

    stop(message) {
      const socket = this.socket;
      this.socket = null;
      if (socket) socket.close(1000);
      this.button.textContent = "Follow";
      this.button.setAttribute("aria-pressed", "false");
      this.say(message || "Not following.");
    }

    connect(tail) {
      let query = "?appId=" + encodeURIComponent(this.appId) + "&tail=" + tail;
      if (this.since) query += "&since=" + encodeURIComponent(this.since);
      const socket = new WebSocket(this.shared.socketUrl("/ws/apps/logs" + query));
      this.socket = socket;
      socket.addEventListener("message", (event) => this.receive(JSON.parse(event.data)));
      socket.addEventListener("close", (event) => {
        if (this.socket !== socket) return; // stopped by the reader, or replaced
        if (FINAL.includes(event.code)) {
          this.stop("Stopped: " + (event.reason || "the server ended the follow") + ".");
          return;
        }
        this.say("Connection lost; reconnecting…");
        window.setTimeout(() => {
          if (this.socket === socket) this.connect(RESUME_TAIL);
        }, RETRY_MS);
      });
    }

    receive(frame) {
      const data = frame.data || {};
      if (frame.type === "log") {
        this.since = frame.timestamp;
        this.log.add(data.stream === "stderr" ? "stderr: " + data.line : data.line);
      } else if (frame.type === "status" && data.message) {
        const message = String(data.message);
        this.say(message.charAt(0).toUpperCase() + message.slice(1) + ".");
      }
    }

    say(message) {
      this.status.textContent = message;
    }
  }

  const section = document.getElementById("runtime");
  if (section && window.fogbank) new RuntimeLogs(section, window.fogbank);
})();
