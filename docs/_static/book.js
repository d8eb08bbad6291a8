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
