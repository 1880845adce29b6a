// Building the page without a framework: elements from tag, attributes and children (text is
// always text, never parsed as HTML), and keyed lists that replace only the items that changed.
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | ((e: Event) => void)>;

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el: Element, attrs: Attrs | null | undefined, children: Child[]): void {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'object' ? c : String(c));
  }
}

/** An HTML element: `h('button', { class: 'big', onclick: go }, 'Approve')`. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  apply(el, attrs, children);
  return el;
}

/** An SVG element, the same way. */
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs, children);
  return el;
}

/** The element with this id; the page is broken without it. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return el as T;
}

const signatures = new WeakMap<Element, string>();

/**
 * Shows `items` in `parent` in order, one element per key. An item is drawn again only when its
 * signature changed, so a button under a finger is not replaced by an identical one.
 */
export function keyedList<T>(parent: Element, items: readonly T[], key: (item: T) => string, signature: (item: T) => string, draw: (item: T) => Element): void {
  const existing = new Map<string, Element>();
  for (const el of [...parent.children]) {
    const k = (el as HTMLElement).dataset.key;
    if (k !== undefined) existing.set(k, el);
    else el.remove();
  }
  let cursor: Element | null = parent.firstElementChild;
  for (const item of items) {
    const k = key(item);
    const sig = signature(item);
    let el = existing.get(k);
    existing.delete(k);
    if (!el || signatures.get(el) !== sig) {
      const fresh = draw(item);
      (fresh as HTMLElement).dataset.key = k;
      signatures.set(fresh, sig);
      if (el) {
        el.replaceWith(fresh);
        if (cursor === el) cursor = fresh;
      }
      el = fresh;
    }
    if (el !== cursor) parent.insertBefore(el, cursor);
    cursor = el.nextElementSibling;
  }
  for (const el of existing.values()) el.remove();
}
