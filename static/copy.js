// Copy buttons for values shown once (a client secret): a button with data-copy="ID" copies
// the value of the field with that id. The buttons are hidden in the page and shown here,
// so without JavaScript the page offers only what works (select and copy by hand).
"use strict";
for (const button of document.querySelectorAll("button[data-copy]")) {
  const field = document.getElementById(button.dataset.copy);
  if (!field) continue;
  const label = button.textContent;
  const say = (text) => {
    button.textContent = text;
    setTimeout(() => { button.textContent = label; }, 4000);
  };
  button.hidden = false;
  button.addEventListener("click", () => {
    field.focus();
    field.select();
    const fallback = () => {
      // Older browsers, or a clipboard the page may not write: the selected text and the
      // system's own copy.
      say(document.execCommand && document.execCommand("copy") ? "Copied" : "Press Ctrl+C to copy");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(() => say("Copied"), fallback);
    } else {
      fallback();
    }
  });
}
