// The notes editor saves as the mediator types (debounced) and never loses text: the draft stays in localStorage
// until the console acknowledges the save; a draft left from an earlier visit is restored and saved again.
(function () {
  const form = document.querySelector("form[data-draft]");
  if (!form) return;
  const key = "mednet:" + form.dataset.draft;
  const state = document.getElementById("save-state");
  const fields = Array.from(form.querySelectorAll("textarea"));
  let timer = null, sending = false, again = false;

  function values() {
    const draft = {};
    fields.forEach((field) => { draft[field.name] = field.value; });
    return draft;
  }
  function show(text, cls) { state.textContent = text; state.className = cls; }

  async function save() {
    if (sending) { again = true; return; }
    sending = true;
    const draft = values();
    try {
      const response = await fetch(form.action, {method: "POST", body: new FormData(form),
        headers: {"Accept": "application/json", "X-CSRF-Token": form.elements.csrf_token.value}});
      const answer = await response.json().catch(() => ({saved: false, problem: "The console did not answer."}));
      if (answer.saved) {
        if (JSON.stringify(values()) === JSON.stringify(draft)) localStorage.removeItem(key);
        show("Saved", "ok");
      } else {
        show("Not saved: " + (answer.problem || "try again") + " (your text is kept in this browser)", "bad");
      }
    } catch (error) {
      show("Not saved: the console cannot be reached (your text is kept in this browser)", "bad");
    } finally {
      sending = false;
      if (again) { again = false; save(); }
    }
  }

  function changed() {
    localStorage.setItem(key, JSON.stringify(values()));
    show("Not saved yet", "warn");
    clearTimeout(timer);
    timer = setTimeout(save, 800);
  }

  const kept = localStorage.getItem(key);
  if (kept) {
    try {
      const draft = JSON.parse(kept);
      fields.forEach((field) => { if (field.name in draft) field.value = draft[field.name]; });
      show("Not saved yet (restored from this browser)", "warn");
      save();
    } catch (error) { localStorage.removeItem(key); }
  }
  fields.forEach((field) => field.addEventListener("input", changed));
  window.addEventListener("beforeunload", (event) => {
    if (localStorage.getItem(key)) { event.preventDefault(); }
  });
})();
