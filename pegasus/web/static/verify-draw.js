// Recomputes a giveaway's draw in the browser (Web Crypto SHA-256), from the revealed seed and
// the entries file, as the README's "Giveaways: the verifiable draw" describes; the Python
// implementation is pegasus/services/giveaways/draw.py. User ids are BigInt: snowflakes do not
// fit in a JavaScript number.
"use strict";

(function () {
  const box = document.getElementById("browser-check");
  if (!box) {
    return;
  }
  box.hidden = false;
  // The page's language: its sentences come from the page (data-texts), English otherwise.
  const TEXTS = JSON.parse(box.dataset.texts || "{}");
  function say(key, english, values) {
    const text = TEXTS[key] || english;
    return text.replace(/\{(\w+)\}/g, (whole, name) =>
      values && name in values ? String(values[name]) : whole);
  }
  const result = document.getElementById("browser-result");
  if (!(window.crypto && window.crypto.subtle)) {
    result.textContent = say("no_crypto", "This browser cannot compute SHA-256 here (Web " +
      "Crypto needs a page served over https); use the entries file and the seed with another " +
      "tool.");
    document.getElementById("verify-button").disabled = true;
    return;
  }
  const TWO_256 = 1n << 256n;
  const encoder = new TextEncoder();

  async function sha256Hex(text) {
    const digest = await window.crypto.subtle.digest("SHA-256", encoder.encode(text));
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function uniformBelow(seed, round, pick, bound) {
    const limit = TWO_256 - (TWO_256 % bound);
    for (let counter = 0; ; counter += 1) {
      const h = BigInt("0x" + (await sha256Hex(`${seed}:${round}:${pick}:${counter}`)));
      if (h < limit) {
        return h % bound;
      }
    }
  }

  async function drawWinners(seed, round, entries, count, excluded) {
    const pool = entries.filter(([userId]) => !excluded.has(userId));
    const winners = [];
    for (let pick = 0; pick < count && pool.length > 0; pick += 1) {
      const total = pool.reduce((sum, [, weight]) => sum + weight, 0n);
      const x = await uniformBelow(seed, round, pick, total);
      let running = 0n;
      let index = 0;
      while (index < pool.length) {
        running += pool[index][1];
        if (running > x) {
          break;
        }
        index += 1;
      }
      winners.push(pool[index][0]);
      pool.splice(index, 1);
    }
    return winners;
  }

  function parseEntries(text) {
    const entries = [];
    const lines = text.split("\n");
    if (lines[lines.length - 1] === "") {
      lines.pop();
    }
    lines.forEach((line, number) => {
      const match = /^(\d{1,20}):(\d{1,9})$/.exec(line);
      if (!match) {
        throw new Error(say("bad_line", 'line {line} of the entries file is not "user id:weight"',
          { line: number + 1 }));
      }
      entries.push([BigInt(match[1]), BigInt(match[2])]);
    });
    entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return entries;
  }

  function ids(text) {
    return text ? text.split(",").map((id) => BigInt(id)) : [];
  }

  function nameOf(userId) {
    const shown = document.querySelector(`.public-winner[data-id="${userId}"]`);
    return shown ? shown.textContent : say("user", "user {id}", { id: userId });
  }

  function line(list, ok, text) {
    const item = document.createElement("li");
    item.textContent = `${ok ? "✔" : "✘"} ${text}`;
    list.appendChild(item);
    return item;
  }

  async function verify(text, source) {
    result.textContent = say("computing", "Computing…");
    const seed = box.dataset.seed;
    const list = document.createElement("ul");
    list.className = "public-checks";
    const seedOk = (await sha256Hex(seed)) === box.dataset.seedHash;
    line(list, seedOk, seedOk
      ? say("seed_ok", "The seed's SHA-256 is the published hash.")
      : say("seed_bad", "The seed's SHA-256 is not the published hash."));
    const digestOk = (await sha256Hex(text)) === box.dataset.entriesDigest;
    const of = source === "upload" ? "your file" : "the entries file";
    line(list, digestOk, digestOk
      ? say(`${source}_ok`, `The SHA-256 of ${of} is the digest stored at the end.`)
      : say(`${source}_bad`, `The SHA-256 of ${of} is not the digest stored at the end.`));
    let allOk = seedOk && digestOk;
    const entries = parseEntries(text);
    const earlierWinners = [];
    for (const shown of document.querySelectorAll(".public-draws li")) {
      const round = Number(shown.dataset.round);
      const announced = ids(shown.dataset.winners);
      const excluded = new Set(ids(shown.dataset.excluded));
      const recomputed = await drawWinners(
        seed, round, entries, Number(shown.dataset.count), excluded
      );
      // A reroll may never pick someone who already won.
      const fresh = earlierWinners.every((userId) => excluded.has(userId));
      earlierWinners.push(...announced);
      const same = fresh && recomputed.length === announced.length &&
        recomputed.every((userId, i) => userId === announced[i]);
      allOk = allOk && same;
      const names = recomputed.map(nameOf).join(", ") || say("nobody", "nobody");
      const which = round === 0 ? "The draw at the end" : "Reroll {round}";
      const verdictOf = same ? "the announced winners" : "NOT the announced winners";
      const key = `${round === 0 ? "end" : "reroll"}_${same ? "same" : "differs"}`;
      const item = line(list, same, say(key, `${which} recomputed here: {names} (${verdictOf}).`,
        { round: round, names: names }));
      item.className = "recomputed";
      item.dataset.round = String(round);
      item.dataset.ids = recomputed.join(",");
    }
    const verdict = document.createElement("p");
    verdict.id = "browser-verdict";
    verdict.dataset.outcome = allOk ? "match" : "mismatch";
    verdict.textContent = allOk
      ? say("match", "The draw checks out: your browser found the same winners from the same " +
        "entries.")
      : say("mismatch", "The draw does NOT check out with these entries: see which step " +
        "differs below.");
    result.replaceChildren(verdict, list);
  }

  function failed(error) {
    const verdict = document.createElement("p");
    verdict.id = "browser-verdict";
    verdict.dataset.outcome = "mismatch";
    verdict.textContent = say("failed", "The draw could not be checked: {error}.",
      { error: error.message });
    result.replaceChildren(verdict);
  }

  document.getElementById("verify-button").addEventListener("click", () => {
    fetch(box.dataset.entriesUrl, { credentials: "omit" })
      .then((response) => {
        if (!response.ok) {
          throw new Error(say("no_download", "the entries file could not be downloaded ({status})",
            { status: response.status }));
        }
        return response.text();
      })
      .then((text) => verify(text, "file"))
      .catch(failed);
  });
  document.getElementById("entries-upload").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) {
      file.text().then((text) => verify(text, "upload")).catch(failed);
    }
  });
})();
