// fogbank's dashboard: every change is a JSON request to the API, sent by the forms and
// buttons that carry data-api. No inline script anywhere (the pages' CSP allows none).
"use strict";

(function () {
  // One JSON request to the API; the envelope (or bare object) and the status.
  async function api(method, path, body) {
    const options = { method: method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = { success: false, message: response.status + " " + response.statusText };
    }
    return { ok: response.ok, status: response.status, body: data };
  }

  // A form's fields as the API's JSON: numbers for type=number or data-type=number, booleans
  // for checkboxes, and empty optional fields left out (the API's default applies).
  function formBody(form) {
    const body = {};
    for (const field of form.elements) {
      if (!field.name || field.disabled) continue;
      if (field.type === "checkbox") {
        body[field.name] = field.checked;
      } else if (field.value === "" && field.hasAttribute("data-optional")) {
        continue;
      } else if (field.type === "number" || field.dataset.type === "number") {
        body[field.name] = field.value === "" ? null : Number(field.value);
      } else {
        body[field.name] = field.value;
      }
    }
    return body;
  }

  function showError(where, message) {
    const box = where && where.querySelector(".form-error");
    if (box) {
      box.textContent = message;
      box.hidden = false;
    } else {
      window.alert(message);
    }
  }

  // What to do after a change succeeded: data-then="reload" | "go:/path/{id}" | "fill:#id" |
  // "follow" (the live panel follows the deployment the answer names).
  function then(action, data, origin) {
    if (!action) return;
    if (action === "reload") {
      window.location.reload();
    } else if (action.startsWith("go:")) {
      const id = data && data.id !== undefined ? String(data.id) : "";
      window.location.assign(action.slice(3).replace("{id}", encodeURIComponent(id)));
    } else if (action.startsWith("fill:")) {
      const target = document.querySelector(action.slice(5));
      if (!target) return;
      for (const slot of target.querySelectorAll("[data-fill]")) {
        const value = data ? data[slot.dataset.fill] : "";
        slot.textContent = value === undefined || value === null ? "" : String(value);
      }
      target.hidden = false;
    } else if (action === "follow") {
      document.dispatchEvent(new CustomEvent("fogbank:follow", { detail: data }));
    }
    if (origin) origin.dispatchEvent(new CustomEvent("fogbank:done", { bubbles: true }));
  }

  async function send(element, method, path, body) {
    if (element.dataset.confirm && !window.confirm(element.dataset.confirm)) return;
    const form = element.closest("form") || element.closest("section");
    const box = form && form.querySelector(".form-error");
    if (box) box.hidden = true;
    element.setAttribute("aria-busy", "true");
    const submitter = element.tagName === "FORM" ? element.querySelector("[type=submit]") : element;
    if (submitter) submitter.disabled = true;
    try {
      const answer = await api(method, path, body);
      if (!answer.ok) {
        showError(form, (answer.body && answer.body.message) || "request failed");
        return;
      }
      // The envelope's data, or the seed's bare object (POST /api/deployment/add).
      const data = answer.body && "success" in answer.body ? answer.body.data : answer.body;
      then(element.dataset.then, data, element);
    } catch (error) {
      showError(form, "The server could not be reached: " + error.message);
    } finally {
      element.removeAttribute("aria-busy");
      if (submitter) submitter.disabled = false;
    }
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.api) return;
    event.preventDefault();
    send(form, form.dataset.method || "POST", form.dataset.api, formBody(form));
  });

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-api]");
    if (!button || button.type === "submit") return;
    event.preventDefault();
    const body = button.dataset.body ? JSON.parse(button.dataset.body) : undefined;
    send(button, button.dataset.method || "POST", button.dataset.api, body);
  });

  window.fogbank = { api: api };
})();
