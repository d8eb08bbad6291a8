// An explorable figure of gradflow.explorer: its controls choose one of the states the page
// embeds as JSON (drawn in Python when the book was built); this script only swaps them in.
(() => {
  function wire(fig) {
    const data = JSON.parse(fig.querySelector("script.gfx-data").textContent);
    const box = fig.querySelector(".gfx-controls");
    const inputs = [...box.querySelectorAll("input, select")];
    const slots = [...fig.querySelectorAll("[data-slot]")];
    const keys = [...fig.querySelectorAll(".gfx-key")];
    const position = (el) =>
      el.type === "checkbox" ? +el.checked : el.type === "range" ? +el.value : el.selectedIndex;
    function draw() {
      const at = inputs.map(position);
      const [caption, parts] = at.reduce((state, i) => state[i], data.states);
      slots.forEach((el, k) => {
        const part = data.pool[parts[k]];
        if (el.tagName === "path") {
          el.setAttribute("d", part);
          keys[k - 2].setAttribute("visibility", part ? "visible" : "hidden");
        } else el.innerHTML = part;
      });
      inputs.forEach((el, k) => {
        if (el.type !== "range") return;
        const text = data.controls[k][at[k]];
        el.setAttribute("aria-valuetext", text);
        el.closest(".gfx-control").querySelector("output").value = text;
      });
      fig.querySelector("figcaption").textContent = caption;
    }
    box.addEventListener("input", draw);
    box.addEventListener("change", draw);
    box.hidden = false;
    draw(); // a browser may restore the controls' last values when the reader comes back
  }
  document.querySelectorAll("figure.gradflow-explorer").forEach(wire);
})();
