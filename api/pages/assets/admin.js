// The admin lists (API tokens, users), read from the API and drawn with DOM calls (never HTML
// strings), with their actions as data-api buttons that ui.js sends.
"use strict";

(function () {
  function cell(row, value, label) {
    const td = document.createElement("td");
    td.dataset.label = label;
    if (value instanceof Node) td.appendChild(value);
    else td.textContent = value === null || value === undefined || value === "" ? "–" : String(value);
    row.appendChild(td);
    return td;
  }

  function button(label, path, method, body, confirmText, aria) {
    const element = document.createElement("button");
    element.type = "button";
    element.className = "small";
    element.textContent = label;
    element.dataset.api = path;
    element.dataset.method = method;
    element.dataset.body = JSON.stringify(body);
    element.dataset.then = "reload";
    if (confirmText) element.dataset.confirm = confirmText;
    if (aria) element.setAttribute("aria-label", aria);
    return element;
  }

  function table(headings, rows) {
    const wrap = document.createElement("div");
    wrap.className = "table-wrap";
    const element = document.createElement("table");
    element.className = "stack";
    const head = element.createTHead().insertRow();
    for (const heading of headings) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = heading;
      head.appendChild(th);
    }
    const body = element.createTBody();
    for (const row of rows) body.appendChild(row);
    wrap.appendChild(element);
    return wrap;
  }

  function tokenRows(tokens) {
    return tokens.map((token) => {
      const row = document.createElement("tr");
      cell(row, token.name, "Name");
      cell(row, token.username, "User");
      cell(row, token.created_at, "Created");
      cell(row, token.last_used_at || "never", "Last used");
      cell(row, token.expires_at || "never", "Expires");
      const actions = button("Revoke", "/api/tokens/revoke", "DELETE", { tokenId: token.id },
        "Revoke the token " + token.name + "?", "Revoke the token " + token.name);
      actions.classList.add("danger");
      cell(row, actions, "Actions");
      return row;
    });
  }

  function userRows(users) {
    return users.map((user) => {
      const row = document.createElement("tr");
      cell(row, user.username, "User");
      const form = document.createElement("form");
      form.className = "inline";
      form.dataset.api = "/api/users/setRole";
      form.dataset.method = "PUT";
      form.dataset.then = "reload";
      const id = document.createElement("input");
      id.type = "hidden";
      id.name = "userId";
      id.value = user.id;
      id.dataset.type = "number";
      const select = document.createElement("select");
      select.name = "role";
      select.setAttribute("aria-label", "Role of " + user.username);
      for (const role of ["viewer", "deployer", "admin"]) {
        const option = new Option(role, role, false, role === user.role);
        select.appendChild(option);
      }
      const save = document.createElement("button");
      save.type = "submit";
      save.className = "small";
      save.textContent = "Set role";
      const error = document.createElement("p");
      error.className = "form-error";
      error.setAttribute("role", "alert");
      error.hidden = true;
      form.append(id, select, save, error);
      cell(row, form, "Role");
      cell(row, user.disabled ? "disabled" : "enabled", "State");
      const actions = document.createDocumentFragment();
      actions.appendChild(user.disabled
        ? button("Enable", "/api/users/enable", "POST", { userId: user.id }, "", "Enable " + user.username)
        : button("Disable", "/api/users/disable", "POST", { userId: user.id },
          "Disable " + user.username + "?", "Disable " + user.username));
      const remove = button("Delete", "/api/users/delete", "DELETE", { userId: user.id },
        "Delete " + user.username + "?", "Delete " + user.username);
      remove.classList.add("danger");
      actions.appendChild(remove);
      cell(row, actions, "Actions");
      return row;
    });
  }

  const KINDS = {
    tokens: { headings: ["Name", "User", "Created", "Last used", "Expires", "Actions"], rows: tokenRows },
    users: { headings: ["User", "Role", "State", "Actions"], rows: userRows },
  };

  async function load(element) {
    const kind = KINDS[element.dataset.kind];
    const answer = await window.fogbank.api("GET", element.dataset.list);
    element.replaceChildren();
    if (!answer.ok) {
      const note = document.createElement("p");
      note.setAttribute("role", "alert");
      note.textContent = (answer.body && answer.body.message) || "could not be listed";
      element.appendChild(note);
      return;
    }
    element.appendChild(table(kind.headings, kind.rows(answer.body.data)));
  }

  for (const element of document.querySelectorAll("[data-list]")) load(element);
})();
