// meterguard's dashboard (docs/dashboard.md). The server renders every view as HTML; this
// script only signs in, keeps the token in this tab's sessionStorage, fetches the view the
// address names (#/ or #/customers/<uuid>) with the token in the Authorization header, which a
// plain link cannot send, and posts the staff's dry-run form.
"use strict";
(function () {
  const TOKEN = "meterguard.token";
  const USER = "meterguard.username";
  const content = document.getElementById("content");
  const signIn = document.getElementById("sign-in");
  const form = document.getElementById("sign-in-form");
  const error = document.getElementById("sign-in-error");
  const signOut = document.getElementById("sign-out");
  const who = document.getElementById("who");

  function showSignIn(message) {
    content.replaceChildren();
    content.dataset.view = "sign-in";
    signIn.hidden = false;
    signOut.hidden = true;
    who.textContent = "";
    error.textContent = message || "";
    document.title = "Sign in · meterguard";
    document.getElementById("username").focus();
  }

  // The fragment the address names, relative to the page, so a proxy's prefix is kept.
  function fragmentFor(hash) {
    const route = hash.replace(/^#/, "") || "/";
    const customer = route.match(/^\/customers\/([0-9a-fA-F-]+)\/?$/);
    if (customer) {
      return "fragments/customers/" + customer[1] + "/";
    }
    const query = route.indexOf("?");
    return "fragments/overview/" + (query >= 0 ? route.slice(query) : "");
  }

  async function show() {
    const token = sessionStorage.getItem(TOKEN);
    if (!token) {
      showSignIn();
      return;
    }
    signIn.hidden = true;
    signOut.hidden = false;
    who.textContent = "Signed in as " + (sessionStorage.getItem(USER) || "");
    content.dataset.view = "loading";
    content.setAttribute("aria-busy", "true");
    let response;
    try {
      response = await fetch(fragmentFor(location.hash), {
        headers: { Authorization: "Token " + token, Accept: "text/html" },
      });
    } catch (e) {
      content.textContent = "The server cannot be reached.";
      content.dataset.view = "error";
      content.removeAttribute("aria-busy");
      return;
    }
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN);
      showSignIn("Your session has ended. Sign in again.");
      return;
    }
    const type = response.headers.get("Content-Type") || "";
    if (type.startsWith("text/html")) {
      content.innerHTML = await response.text();
      content.dataset.view = response.ok ? "loaded" : "missing";
    } else {
      content.textContent = "The server answered " + response.status + ". Try again later.";
      content.dataset.view = "error";
    }
    content.removeAttribute("aria-busy");
    const heading = content.querySelector("h1");
    document.title = (heading ? heading.textContent + " · " : "") + "meterguard";
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    error.textContent = "";
    const username = form.elements.username.value;
    let response;
    try {
      response = await fetch("../api-auth/password/", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ username: username, password: form.elements.password.value }),
      });
    } catch (e) {
      error.textContent = "The server cannot be reached.";
      return;
    }
    const body = await response.json().catch(function () { return {}; });
    if (!response.ok || !body.token) {
      const reasons = Object.values(body).flat().filter(function (r) { return typeof r === "string"; });
      error.textContent = reasons.join(" ") || "Signing in failed (" + response.status + ").";
      return;
    }
    sessionStorage.setItem(TOKEN, body.token);
    sessionStorage.setItem(USER, username);
    form.reset();
    await show();
    const heading = content.querySelector("h1");
    if (heading) {
      heading.tabIndex = -1;
      heading.focus();
    }
  });

  signOut.addEventListener("click", function () {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(USER);
    location.hash = "#/";
    showSignIn("Signed out.");
  });

  // The overview's filter and order go into the address, so reloading keeps them.
  content.addEventListener("submit", function (event) {
    if (event.target.id === "dry-run-form") {
      event.preventDefault();
      dryRun(event.target);
      return;
    }
    if (event.target.id !== "overview-controls") {
      return;
    }
    event.preventDefault();
    const params = new URLSearchParams(new FormData(event.target));
    location.hash = "#/?" + params.toString();
  });

  // The staff's dry-run form (docs/dashboard.md §3.2): the API's dry-run body, built from the
  // fields as typed, so the server judges every value and says what is wrong with it. For a
  // change to a saved policy, the form's row replaces the policy's row on that component and
  // its other rows are sent as they are.
  function dryRunBody(form) {
    const f = form.elements;
    const row = { component: f.component.value, limit: f.limit.value, period: Number(f.period.value) };
    const others = form.dataset.policy ? JSON.parse(form.dataset.rows) : [];
    const body = {
      actions: Array.from(form.querySelectorAll("input[name=actions]:checked"))
        .map(function (box) { return box.value; }).join(","),
      component_limits_set: others.filter(function (r) { return r.component !== row.component; }).concat([row]),
    };
    if (!form.dataset.policy) {
      body.scope = form.dataset.scope;
    }
    const thresholds = f.warning_thresholds.value.trim();
    if (thresholds) {
      body.warning_thresholds = thresholds.split(",").map(function (t) { return t.trim(); });
    }
    if (f.reset_below_percent.value.trim()) {
      body.reset_below_percent = f.reset_below_percent.value.trim();
    }
    if (f.since.value.trim()) {
      body.since = f.since.value.trim();
    }
    return body;
  }

  // A 400's messages, each next to the field it names (a limit row's fields are nested in
  // component_limits_set); anything else above the button.
  function showErrors(form, errors) {
    function place(key, value) {
      if (Array.isArray(value)) {
        value.forEach(function (item) {
          if (typeof item === "string") {
            const target = form.querySelector("[data-error=\"" + key + "\"]") ||
              form.querySelector("[data-error=form]");
            target.textContent = (target.textContent + " " + item).trim();
          } else {
            place(key, item);
          }
        });
      } else if (value && typeof value === "object") {
        Object.keys(value).forEach(function (inner) { place(inner, value[inner]); });
      }
    }
    place("form", errors);
  }

  async function dryRun(form) {
    const result = document.getElementById("dry-run-result");
    form.querySelectorAll("[data-error]").forEach(function (p) { p.textContent = ""; });
    result.replaceChildren();
    result.dataset.state = "running";
    let response;
    try {
      const url = form.dataset.policy ? "fragments/policies/" + form.dataset.policy + "/dry-run/" : "fragments/dry-run/";
      response = await fetch(url, {
        method: "POST",
        headers: {
          Authorization: "Token " + sessionStorage.getItem(TOKEN),
          "Content-Type": "application/json",
          Accept: "text/html",
        },
        body: JSON.stringify(dryRunBody(form)),
      });
    } catch (e) {
      form.querySelector("[data-error=form]").textContent = "The server cannot be reached.";
      result.dataset.state = "error";
      return;
    }
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN);
      showSignIn("Your session has ended. Sign in again.");
      return;
    }
    if (response.ok) {
      result.innerHTML = await response.text();
      result.dataset.state = "done";
      document.getElementById("dry-run-result-title").focus();
      return;
    }
    const body = await response.json().catch(function () { return {}; });
    if (response.status === 400) {
      showErrors(form, body);
    } else {
      form.querySelector("[data-error=form]").textContent =
        body.detail || "The server answered " + response.status + ".";
    }
    result.dataset.state = "refused";
    const first = Array.from(form.querySelectorAll("[data-error]")).find(function (p) { return p.textContent; });
    if (first) {
      const control = first.parentElement.querySelector("input, select");
      if (control) {
        control.focus();
      }
    }
  }

  // "Dry run a change" on a policy fills the form with it; "A new policy instead" empties it.
  function fillDryRun(button) {
    const form = document.getElementById("dry-run-form");
    const mode = document.getElementById("dry-run-mode");
    const f = form.elements;
    form.reset();
    form.querySelectorAll("[data-error]").forEach(function (p) { p.textContent = ""; });
    document.getElementById("dry-run-result").replaceChildren();
    if (!button) {
      delete form.dataset.policy;
      delete form.dataset.rows;
      mode.hidden = true;
      f.component.focus();
      return;
    }
    const rows = JSON.parse(button.dataset.rows);
    form.dataset.policy = button.dataset.policy;
    form.dataset.rows = button.dataset.rows;
    if (rows.length) {
      f.component.value = rows[0].component;
      f.limit.value = rows[0].limit;
      f.period.value = String(rows[0].period);
    }
    const actions = button.dataset.actions.split(",");
    form.querySelectorAll("input[name=actions]").forEach(function (box) {
      box.checked = actions.indexOf(box.value) >= 0;
    });
    f.warning_thresholds.value = button.dataset.thresholds;
    f.reset_below_percent.value = button.dataset.reset;
    mode.querySelector("span").textContent = "Changing policy " + button.dataset.policy.slice(0, 8) +
      " (its grants and its fired state count; its other rows stay as they are).";
    mode.hidden = false;
    f.limit.focus();
  }

  content.addEventListener("click", function (event) {
    const change = event.target.closest("button.dry-run-change");
    if (change) {
      fillDryRun(change);
    } else if (event.target.id === "dry-run-new") {
      fillDryRun(null);
    }
  });

  window.addEventListener("hashchange", async function () {
    await show();
    // After following a link, reading starts at the new view's heading.
    const heading = content.querySelector("h1");
    if (heading && !content.contains(document.activeElement)) {
      heading.tabIndex = -1;
      heading.focus();
    }
  });

  show();
})();
