// Forms from the JSON schemas the API answers (pydantic-forms): one page at a time, errors next to fields.

import {ApiError, describeError, isEnginePaused} from "./api.js";
import {clear, errorBox, h, humanize, isUuid} from "./dom.js";

let fieldCounter = 0;

function resolve(schema, defs) {
  let merged = {...schema};
  for (let depth = 0; depth < 20; depth++) {
    let ref = merged.$ref;
    if (!ref && Array.isArray(merged.allOf) && merged.allOf.length === 1) ref = merged.allOf[0].$ref;
    if (!ref) break;
    // The definition's title names its class (an enum, a model); the field keeps its own label.
    const {title, ...target} = defs[ref.split("/").pop()] || {};
    const {$ref, allOf, ...own} = merged;
    merged = {...target, ...own};
  }
  // Optional[X]: anyOf [X, null] -> X, remembering that null is allowed.
  const union = merged.anyOf || merged.oneOf;
  if (Array.isArray(union)) {
    const branches = union.filter((branch) => branch.type !== "null");
    if (branches.length < union.length) merged.nullable = true;
    if (branches.length === 1) {
      const {anyOf, oneOf, ...own} = merged;
      const {title, ...branch} = resolve(branches[0], defs);
      merged = {...branch, ...own, type: own.type || branch.type};
    }
  }
  return merged;
}

const isReadOnly = (s) => Boolean(s.readOnly || s.uniforms?.disabled || s.extraProperties?.disabled || "const" in s);
const presetValue = (s) => s.uniforms?.value ?? s.extraProperties?.value ?? s.const ?? s.default;

function optionLabel(schema, value) {
  return schema.options?.[value] ?? schema["x-enumNames"]?.[schema.enum.indexOf(value)] ?? String(value);
}

function boundsHint(s) {
  const low = s.minimum ?? s.exclusiveMinimum;
  const high = s.maximum ?? s.exclusiveMaximum;
  if (low !== undefined && high !== undefined) return `From ${low} to ${high}`;
  if (low !== undefined) return `At least ${low}`;
  if (high !== undefined) return `At most ${high}`;
  return null;
}

/**
 * Render one form page. Returns {el, collect, setErrors, focusFirstError}; `collect()` gives the page's
 * answers (empty fields left out, so the server applies defaults or says the field is required).
 */
export function renderForm(schema, {values = {}} = {}) {
  const defs = schema.$defs || schema.definitions || {};
  const slots = new Map();
  const general = h("div", {class: "form-errors", role: "alert"});

  function slot(path, control) {
    const id = `f${++fieldCounter}`;
    const message = h("p", {class: "field-error", id: `${id}-error`, hidden: true});
    const entry = {
      id,
      message,
      control,
      show(text) {
        message.hidden = false;
        message.textContent = text;
        control?.setAttribute?.("aria-invalid", "true");
        control?.setAttribute?.("aria-describedby", `${id}-error`);
      },
      clear() {
        message.hidden = true;
        message.textContent = "";
        control?.removeAttribute?.("aria-invalid");
      },
    };
    slots.set(path.join("."), entry);
    return entry;
  }

  function wrap(name, s, required, control, path, {inline = false, hint = null} = {}) {
    const entry = slot(path, control);
    control.id ||= entry.id;
    const title = s.title || humanize(name);
    const label = h("label", {for: control.id}, title, required ? h("span", {class: "req", title: "required"}, " *") : null);
    const help = [s.description, hint].filter(Boolean).join(". ");
    return h(
      "div",
      {class: inline ? "field inline" : "field", dataset: {field: path.join(".")}},
      inline ? [control, label] : [label, control],
      help ? h("p", {class: "hint"}, help) : null,
      entry.message,
    );
  }

  function field(name, raw, path, required, value) {
    const s = resolve(raw, defs);
    const current = value !== undefined ? value : presetValue(s);

    if (s.format === "label") {
      const text = typeof s.default === "string" && s.default ? s.default : s.title || humanize(name);
      return {el: h("p", {class: "form-label"}, text), get: () => undefined};
    }
    if (s.format === "divider") return {el: h("hr", {class: "form-divider"}), get: () => undefined};
    if (s.format === "hidden") return {el: null, get: () => presetValue(s)};

    if (isReadOnly(s)) {
      const shown = presetValue(s);
      let display;
      if (s.format === "subscription" && isUuid(shown)) {
        display = h("a", {href: `#/subscriptions/${shown}`}, shown);
      } else if (s.format === "summary") {
        display = summaryTable(s.uniforms?.data || s.extraProperties?.data);
      } else if (Array.isArray(shown)) {
        display = shown.length ? h("ul", {}, shown.map((item) => h("li", {}, String(item)))) : h("span", {class: "muted"}, "none");
      } else {
        display = h("span", {}, shown === null || shown === undefined ? "—" : String(shown));
      }
      const box = h("div", {class: "readonly", tabindex: 0, "aria-readonly": "true"}, display);
      const el = wrap(name, s, false, box, path);
      const send = "const" in s || s.uniforms?.value !== undefined || s.extraProperties?.value !== undefined;
      return {el, get: () => (send ? shown : undefined)};
    }

    if (s.format === "accept") {
      const box = h("input", {type: "checkbox", checked: current === "ACCEPTED"});
      return {
        el: wrap(name, s, required, box, path, {inline: true}),
        get: () => (box.checked ? "ACCEPTED" : "INCOMPLETE"),
      };
    }

    if (s.type === "boolean") {
      const box = h("input", {type: "checkbox", checked: current === true});
      return {el: wrap(name, s, false, box, path, {inline: true}), get: () => box.checked};
    }

    if (Array.isArray(s.enum)) {
      const select = h(
        "select",
        {},
        current === undefined || current === null || s.nullable || !required ? h("option", {value: ""}, "— choose —") : null,
        s.enum.map((option) => h("option", {value: String(option), selected: option === current}, optionLabel(s, option))),
      );
      return {
        el: wrap(name, s, required, select, path),
        get: () => {
          if (select.value === "") return s.nullable && !required ? null : undefined;
          return s.enum.find((option) => String(option) === select.value);
        },
      };
    }

    if (s.type === "integer" || s.type === "number" || s.format === "timestamp") {
      if (s.format === "timestamp") {
        const input = h("input", {type: "datetime-local", step: 1});
        if (typeof current === "number") input.value = toLocalInput(new Date(current * 1000));
        return {
          el: wrap(name, s, required, input, path),
          get: () => (input.value ? Math.round(new Date(input.value).getTime() / 1000) : s.nullable ? null : undefined),
        };
      }
      const input = h("input", {
        type: "number",
        inputmode: s.type === "integer" ? "numeric" : "decimal",
        step: s.multipleOf ?? (s.type === "integer" ? 1 : "any"),
        min: s.minimum ?? s.exclusiveMinimum,
        max: s.maximum ?? s.exclusiveMaximum,
        value: current ?? "",
      });
      return {
        el: wrap(name, s, required, input, path, {hint: boundsHint(s)}),
        get: () => {
          if (input.value === "") return s.nullable && !required ? null : undefined;
          const number = Number(input.value);
          return Number.isNaN(number) ? input.value : number;
        },
      };
    }

    if (s.type === "array") return arrayField(name, s, path, required, current);

    if (s.type === "object" && s.properties) {
      const inner = fields(s, path, current || {});
      const entry = slot(path, null);
      const el = h("fieldset", {class: "group"}, h("legend", {}, s.title || humanize(name)), inner.elements, entry.message);
      return {el, get: inner.get};
    }

    if (s.type === "string" && (s.format === "date-time" || s.format === "date")) {
      const input = h("input", {type: s.format === "date" ? "date" : "datetime-local", step: 1});
      if (current) input.value = s.format === "date" ? current : toLocalInput(new Date(current));
      return {
        el: wrap(name, s, required, input, path),
        get: () => {
          if (!input.value) return s.nullable ? null : undefined;
          return s.format === "date" ? input.value : new Date(input.value).toISOString();
        },
      };
    }

    const long = s.format === "long" || s.format === "textarea" || (s.maxLength ?? 0) > 200;
    const text = long
      ? h("textarea", {rows: 5}, current ?? "")
      : h("input", {
          type: "text",
          value: current ?? "",
          maxlength: s.maxLength,
          minlength: s.minLength,
          placeholder: s.format === "uuid" ? "00000000-0000-0000-0000-000000000000" : undefined,
          autocomplete: "off",
          spellcheck: s.format ? "false" : undefined,
        });
    return {
      el: wrap(name, s, required, text, path),
      get: () => (text.value === "" ? (s.nullable && !required ? null : undefined) : text.value),
    };
  }

  function arrayField(name, s, path, required, current) {
    const items = resolve(s.items || {}, defs);
    const entry = slot(path, null);
    const title = s.title || humanize(name);
    const limits = [
      s.minItems ? `at least ${s.minItems}` : null,
      s.maxItems ? `at most ${s.maxItems}` : null,
      s.uniqueItems ? "no duplicates" : null,
    ].filter(Boolean);
    const hint = limits.length ? h("p", {class: "hint"}, `Choose ${limits.join(", ")}.`) : null;

    if (Array.isArray(items.enum)) {
      const chosen = new Set((current || []).map(String));
      const boxes = items.enum.map((option) => {
        const id = `f${++fieldCounter}`;
        const box = h("input", {type: "checkbox", id, value: String(option), checked: chosen.has(String(option))});
        return {option, box, el: h("div", {class: "field inline"}, box, h("label", {for: id}, optionLabel(items, option)))};
      });
      const el = h(
        "fieldset",
        {class: "group choices", dataset: {field: path.join(".")}},
        h("legend", {}, title, required ? h("span", {class: "req"}, " *") : null),
        boxes.map((b) => b.el),
        hint,
        entry.message,
      );
      return {el, get: () => boxes.filter((b) => b.box.checked).map((b) => b.option)};
    }

    const rows = [];
    const list = h("div", {class: "rows"});
    const add = h("button", {type: "button", class: "secondary small"}, `Add ${items.title || "item"}`);
    const refresh = () => {
      add.disabled = s.maxItems !== undefined && rows.length >= s.maxItems;
      rows.forEach((row, index) => {
        row.remove.disabled = s.minItems !== undefined && rows.length <= s.minItems;
        row.remove.setAttribute("aria-label", `Remove item ${index + 1} of ${title}`);
      });
    };
    const addRow = (value) => {
      const index = rows.length;
      const control = field(`${index + 1}`, {...items, title: `${items.title || title} ${index + 1}`}, [...path, index], true, value);
      const row = {control, remove: h("button", {type: "button", class: "link small"}, "Remove")};
      row.el = h("div", {class: "row"}, control.el, row.remove);
      row.remove.addEventListener("click", () => {
        rows.splice(rows.indexOf(row), 1);
        row.el.remove();
        refresh();
      });
      rows.push(row);
      list.append(row.el);
      refresh();
    };
    const initial = Array.isArray(current) ? current : [];
    initial.forEach((value) => addRow(value));
    while (rows.length < (s.minItems || 0)) addRow(undefined);
    add.addEventListener("click", () => {
      addRow(undefined);
      rows.at(-1).el.querySelector("input, select, textarea")?.focus();
    });
    refresh();
    const el = h(
      "fieldset",
      {class: "group", dataset: {field: path.join(".")}},
      h("legend", {}, title, required ? h("span", {class: "req"}, " *") : null),
      list,
      add,
      hint,
      entry.message,
    );
    return {el, get: () => rows.map((row) => row.control.get()).map((v) => (v === undefined ? null : v))};
  }

  function fields(s, path, current) {
    const required = new Set(s.required || []);
    const controls = Object.entries(s.properties || {}).map(([name, prop]) => [
      name,
      field(name, prop, [...path, name], required.has(name), current[name]),
    ]);
    return {
      elements: controls.map(([, c]) => c.el),
      get: () => {
        const out = {};
        for (const [name, control] of controls) {
          const value = control.get();
          if (value !== undefined) out[name] = value;
        }
        return out;
      },
    };
  }

  const top = fields(schema, [], values);
  const el = h("div", {class: "form-fields"}, general, top.elements);

  return {
    el,
    collect: top.get,
    /** Show the API's validation_errors next to their fields; the rest above the form. */
    setErrors(errors) {
      for (const entry of slots.values()) entry.clear();
      clear(general);
      const unplaced = [];
      for (const error of errors || []) {
        const loc = (error.loc || []).filter((part) => part !== "body" && part !== "__root__");
        let placed = false;
        for (let n = loc.length; n > 0 && !placed; n--) {
          const entry = slots.get(loc.slice(0, n).join("."));
          if (entry) {
            entry.show(entry.message.textContent ? `${entry.message.textContent}; ${error.msg}` : error.msg);
            placed = true;
          }
        }
        if (!placed) unplaced.push(loc.length ? `${loc.join(" › ")}: ${error.msg}` : error.msg);
      }
      if (unplaced.length) append(general, unplaced);
    },
    focusFirstError() {
      const invalid = el.querySelector("[aria-invalid=true]") || el.querySelector(".field-error:not([hidden])");
      (invalid?.closest(".field, fieldset")?.querySelector("input, select, textarea, .readonly") || invalid)?.focus();
    },
  };

  function append(box, messages) {
    box.append(h("p", {}, "Please correct:"), h("ul", {}, messages.map((m) => h("li", {}, m))));
  }
}

function summaryTable(data) {
  if (!data) return h("span", {class: "muted"}, "—");
  const headers = data.headers || [];
  const columns = data.columns || [];
  const labels = data.labels || [];
  if (!columns.length) return h("pre", {}, JSON.stringify(data, null, 2));
  return h(
    "table",
    {class: "table compact"},
    headers.length ? h("thead", {}, h("tr", {}, labels.length ? h("th") : null, headers.map((x) => h("th", {}, x)))) : null,
    h(
      "tbody",
      {},
      columns[0].map((_, row) =>
        h("tr", {}, labels.length ? h("th", {}, labels[row]) : null, columns.map((col) => h("td", {}, String(col[row] ?? "")))),
      ),
    ),
  );
}

function toLocalInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** Remove the "engine is paused" error from `status` once the engine runs again (here or elsewhere). */
function clearOnceRunning(status) {
  const shown = status.firstChild;
  const onEngine = (event) => {
    if (status.firstChild === shown && status.isConnected && event.detail?.global_lock) return;
    window.removeEventListener("orchestrion:engine", onEngine);
    if (status.firstChild === shown) clear(status);
  };
  window.addEventListener("orchestrion:engine", onEngine);
}

/**
 * A multi-page form: `submit(pages)` posts every page filled so far; a 510 answer brings the next page,
 * a 400 its validation errors, anything else finishes (`onDone`). `prefilled` pages are sent first and
 * never shown; `firstForm` skips the first request when the page is already known (a suspended step).
 */
export function formFlow(container, {submit, onDone, prefilled = [], firstForm = null, submitLabel = "Submit"}) {
  const pages = [...prefilled];
  const stack = []; // the form shown for pages[prefilled.length + i]
  const status = h("div", {});
  const body = h("div", {});
  clear(container, status, body);

  function show(form, meta, values = {}) {
    const rendered = renderForm(form, {values});
    const page = stack.length + 1;
    stack.push({form, meta, rendered});
    const hasNext = meta?.hasNext === true;
    const next = h("button", {type: "submit", class: "primary"}, hasNext ? "Next" : submitLabel);
    const back = stack.length > 1 ? h("button", {type: "button", class: "secondary"}, "Back") : null;
    const title = form.title && form.title !== "unknown" ? form.title : null;
    const el = h(
      "form",
      {class: "schema-form", novalidate: true, "aria-label": title || `Form page ${page}`},
      h("p", {class: "page-count"}, title ? `${title} · ` : "", `Page ${page}`, hasNext ? " (more follow)" : ""),
      rendered.el,
      h("div", {class: "actions"}, back, next),
    );
    el.addEventListener("submit", async (event) => {
      event.preventDefault();
      next.disabled = true;
      next.textContent = "Sending…";
      await send(rendered.collect(), rendered);
      next.disabled = false;
      next.textContent = hasNext ? "Next" : submitLabel;
    });
    back?.addEventListener("click", () => {
      stack.pop();
      const previous = stack.pop();
      const values = pages.pop();
      show(previous.form, previous.meta, values);
    });
    clear(body, el);
    clear(status);
    el.querySelector("input:not([type=hidden]), select, textarea")?.focus();
  }

  async function send(values, rendered) {
    const attempt = values === undefined ? pages : [...pages, values];
    clear(status);
    try {
      const result = await submit(attempt);
      onDone(result);
    } catch (error) {
      if (error instanceof ApiError && error.status === 510 && error.body?.form) {
        if (values !== undefined) pages.push(values);
        show(error.body.form, error.body.meta);
      } else if (error instanceof ApiError && error.status === 400 && Array.isArray(error.body?.validation_errors) && rendered) {
        rendered.setErrors(error.body.validation_errors);
        rendered.focusFirstError();
      } else {
        clear(status, errorBox(describeError(error)));
        if (isEnginePaused(error)) clearOnceRunning(status);
      }
    }
  }

  if (firstForm) show(firstForm, null);
  else send(undefined, null);
}
