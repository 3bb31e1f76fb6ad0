// Live preview of the welcome, goodbye and level-up messages on the settings pages.
// The server fills the message in with the bot's own formatter (pegasus/web/dashboard/previews.py);
// this only sends the form as it is typed and shows the answer. Without it, the preview of the
// page as loaded is shown, and updated when the form is saved.
"use strict";

(function () {
  const WAIT_MS = 250; // typing pauses this long before the server is asked
  const PARTS = ["content", "embed_title", "embed_description", "error"];

  function paintEmbed(embed, colour) {
    embed.hidden = !colour;
    if (colour) {
      // A style property set from script is allowed by the page's policy; a style attribute is not.
      embed.style.borderLeftColor = colour;
    }
  }

  function show(box, preview) {
    for (const part of PARTS) {
      const element = box.querySelector('[data-part="' + part + '"]');
      const text = preview[part];
      element.textContent = text || "";
      element.hidden = !text;
    }
    paintEmbed(box.querySelector('[data-part="embed"]'), preview.embed_colour);
  }

  function watch(box) {
    const form = box.closest("form");
    let timer = null;
    let asked = 0; // only the answer to the latest question is shown

    async function refresh() {
      const question = ++asked;
      const body = new URLSearchParams(new FormData(form));
      body.set("preview", box.dataset.preview);
      let answer;
      try {
        const response = await fetch(box.dataset.url, {
          method: "POST",
          body: body,
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        if (!response.ok) {
          return; // signed out or refused: the last preview stays
        }
        answer = await response.json();
      } catch (error) {
        return; // offline: the last preview stays
      }
      if (question === asked) {
        show(box, answer);
      }
    }

    function later() {
      clearTimeout(timer);
      timer = setTimeout(refresh, WAIT_MS);
    }

    form.addEventListener("input", later);
    form.addEventListener("change", later);
    const embed = box.querySelector('[data-part="embed"]');
    paintEmbed(embed, embed.dataset.colour);
  }

  document.querySelectorAll("[data-preview]").forEach(watch);
})();
