// review.js: the only script of the reviewer pages. Thumbnails are blurred and greyscale by
// default (review.css); a click reveals one and a second click blurs it again. No inline
// script exists anywhere (the CSP forbids it), so behaviour is attached here.
"use strict";

document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest(".thumb .reveal") : null;
  if (!button) return;
  const shown = button.getAttribute("aria-pressed") === "true";
  button.setAttribute("aria-pressed", shown ? "false" : "true");
  button.title = shown ? "Show the picture" : "Blur the picture";
});

