// Moving between routes from page code.

function hashFor(path, params) {
  const query = params ? new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v != null)) : null;
  return `#${path}${query && query.toString() ? `?${query}` : ""}`;
}

export function navigate(path, params) {
  location.hash = hashFor(path, params);
}

/** Record a page's filters in the address (so reload and links keep them) without rendering it again. */
export function setParams(path, params) {
  history.replaceState(null, "", hashFor(path, params));
}
