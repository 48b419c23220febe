// The one element builder of every page's script: el("a", { href, text, dataset: {...} }, ...children).
// An attribute that is null, undefined or false is left out; true sets it empty. Its own module, so the pages
// that do not run live.js (a bulk job's page, the wall board) build elements the same way.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) node.append(child);
  return node;
}
