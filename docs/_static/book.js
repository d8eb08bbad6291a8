// The theme draws two buttons for each sidebar, one in the top bar and one beside the chapter's
// title, but listens only to the first of each; on most screens the visible one is the second
// (the chapters' menu on a phone, "On this page" below 1440 px). Let it do the same as the first.
document.addEventListener("DOMContentLoaded", () => {
  for (const kind of ["primary-toggle", "secondary-toggle"]) {
    const [listened, ...others] = document.querySelectorAll(`button.${kind}`);
    for (const button of others) {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        listened.click();
      });
    }
  }
});

// Sections below the first screen wait to be laid out (book.css: content-visibility), so that a
// phone draws the first screen sooner. Once the page has loaded, each is laid out for good, one
// per task, so that no task lays out the whole page; until then a skipped section has only an
// estimated height, in which its content, if measured, overlaps what follows (accessibility
// checkers then read the wrong background behind a text).
const SECTIONS = ".bd-article section section";
function layOut(section) {
  // drawn from now on, with the containment it had when drawn (its margins stay inside it):
  // a section on screen keeps its place to the pixel
  section.style.contain = "layout style paint";
  section.style.contentVisibility = "visible";
  void section.offsetHeight; // its layout now, in this task
}
function layOutSections(then) {
  const pending = [...document.querySelectorAll(SECTIONS)];
  const slice = () => {
    const start = performance.now();
    while (pending.length && performance.now() - start < 8) layOut(pending.shift());
    if (pending.length) setTimeout(slice, 0);
    else then();
  };
  slice();
}

// A scrollable code block or output takes the keyboard's focus (tabindex 0), so that it can be
// scrolled without a mouse; one that fits does not (-1). The theme does this for every block at
// once when the page has loaded, which lays out the whole page in one task (up to a second on a
// phone, with the reader's taps waiting); bookbuild.static takes that call out of the theme's
// script, and this does the same work a few blocks at a time, between other tasks.
const SCROLLABLE =
  "pre, .nboutput > .output_area, .cell_output > .output, .jp-RenderedHTMLCommon, " +
  ".pst-scrollable-table-container";
let pass = 0; // a new pass (after a resize) ends the one before
function updateTabStops() {
  const pending = [...document.querySelectorAll(SCROLLABLE)];
  const current = ++pass;
  const slice = () => {
    if (current !== pass) return;
    const start = performance.now();
    while (pending.length && performance.now() - start < 8) {
      const el = pending.shift();
      const scrolls = el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight;
      el.tabIndex = scrolls ? 0 : -1;
    }
    if (pending.length) setTimeout(slice, 0);
  };
  slice();
}
let resized;
window.addEventListener("resize", () => {
  clearTimeout(resized);
  resized = setTimeout(updateTabStops, 300);
});

// A link to a section (a URL with a #fragment) lands on it while the sections above it hold
// estimated heights; as they are laid out, one per task, the browser does not keep the target in
// place (a section of transformer_block fell 4000 px below the screen), and the reader loses it.
// So the sections above a linked target are laid out in one task, and the target brought back.
function showLinkedTarget() {
  let target;
  try {
    target = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
  } catch {
    return; // a malformed fragment
  }
  if (!target) return;
  for (const section of document.querySelectorAll(SECTIONS)) {
    if (section.compareDocumentPosition(target) & Node.DOCUMENT_POSITION_FOLLOWING) layOut(section);
  }
  target.scrollIntoView({ behavior: "instant" });
}
window.addEventListener("hashchange", showLinkedTarget);
const afterLoad = () =>
  setTimeout(() => {
    showLinkedTarget();
    layOutSections(updateTabStops);
  }, 0);
if (document.readyState === "complete") afterLoad();
else window.addEventListener("load", afterLoad);
