// Audit one rendered book page; evaluated by check_book.py after MathJax has finished and every image
// has settled. Returns plain data (no DOM nodes): what is typeset, what overflows, what is clipped.
() => {
  const MAX = 25;  // offenders kept per kind and page; counts are always exact
  const vw = document.documentElement.clientWidth;
  const squash = (s, n = 90) => {
    s = (s || "").replace(/\s+/g, " ").trim();
    return s.length > n ? s.slice(0, n - 1) + "…" : s;
  };
  // The heading a reader would look under: the nearest h1-h4 before the element in document order.
  const headings = [...document.querySelectorAll("main h1, main h2, main h3, main h4")];
  const sectionOf = (el) => {
    let last = "";
    for (const h of headings) {
      if (h.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING || h.contains(el)) {
        last = h.textContent;
      } else break;
    }
    return squash(last.replace(/#$/, ""), 60);
  };
  const cssPath = (el) => {
    const cls = [...el.classList].filter((c) => !c.startsWith("Ctxt")).slice(0, 2);
    return el.tagName.toLowerCase() + (cls.length ? "." + cls.join(".") : "");
  };
  const visible = (el) => {
    if (!el.checkVisibility({ checkVisibilityCSS: true })) return false;
    const r = el.getBoundingClientRect();
    return r.width > 1 && r.height > 1;
  };
  // MathJax keeps the TeX of each typeset expression; map its container back to the source.
  const texOf = new Map();
  if (window.MathJax && MathJax.startup && MathJax.startup.document) {
    for (const item of MathJax.startup.document.math) {
      if (item.typesetRoot) texOf.set(item.typesetRoot, item.math);
    }
  }
  const texFor = (el) => {
    const c = el.matches("mjx-container") ? el : el.querySelector("mjx-container") || el.closest("mjx-container");
    return c && texOf.has(c) ? squash(texOf.get(c), 110) : squash(el.textContent, 110);
  };
  const describe = (el, extra = {}) => ({
    element: cssPath(el), section: sectionOf(el), text: squash(el.innerText || el.textContent), ...extra,
  });
  const keep = (list, item) => { if (list.length < MAX) list.push(item); };

  // ---- math ----------------------------------------------------------------------------------------
  const mathEls = [...document.querySelectorAll("span.math, div.math")];
  const math = { count: mathEls.length, typeset: 0, untypeset: [], errors: [], raw: [], rawCount: 0,
                 untypesetCount: 0, errorCount: 0 };
  for (const el of mathEls) {
    if (el.querySelector("mjx-container")) math.typeset += 1;
    else { math.untypesetCount += 1; keep(math.untypeset, describe(el)); }
  }
  for (const err of document.querySelectorAll("mjx-merror, [data-mjx-error]")) {
    math.errorCount += 1;
    const c = err.closest("mjx-container") || err;
    keep(math.errors, describe(c, { error: err.getAttribute("data-mjx-error") || squash(err.textContent),
                                    tex: texFor(c) }));
  }
  // TeX left as text anywhere outside code: delimiters MathJax should have consumed, or a bare macro.
  const RAW = /\\\(|\\\)|\\\[|\\\]|\$\$|\\(?:frac|mathbf|boldsymbol|sum|prod|partial|odot|tanh|sigma|alpha|beta|theta|nabla|top|left|right|begin|end|mathrm|text|operatorname|cdot|times|quad|hat|tilde|bar|in|le|ge|to|mid)\b/;
  const SKIP = "script, style, pre, code, kbd, samp, textarea, noscript, mjx-container, .highlight, .linenos, " +
    "span.pre, .sig";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const p = n.parentElement;
    if (!p || p.closest(SKIP) || !RAW.test(n.nodeValue)) continue;
    math.rawCount += 1;
    const m = n.nodeValue.match(RAW);
    keep(math.raw, describe(p, { text: squash(n.nodeValue.slice(Math.max(0, m.index - 30), m.index + 60)) }));
  }

  // ---- images ----------------------------------------------------------------------------------------
  const images = { count: document.images.length, broken: [] };
  for (const img of document.images) {
    if (!(img.complete && img.naturalWidth > 0)) keep(images.broken, describe(img, { src: img.getAttribute("src") }));
  }

  // ---- solutions -----------------------------------------------------------------------------------
  const solutions = { count: 0, open: [] };
  for (const sol of document.querySelectorAll(".solution")) {
    solutions.count += 1;
    const body = [...sol.children].filter((c) => !c.matches(".admonition-title, .toggle-button, button"));
    const shown = body.filter(visible);
    if (!sol.classList.contains("dropdown") || shown.length) {
      keep(solutions.open, describe(sol.querySelector(".admonition-title") || sol,
                                    { why: sol.classList.contains("dropdown") ? "body visible" : "not a dropdown" }));
    }
  }

  // ---- outputs: consecutive prints merged into one box (nb_merge_streams), no empty boxes ---------
  const outputs = { boxes: 0, split: [], empty: [] };
  for (const out of document.querySelectorAll("div.cell_output")) {
    let prev = null;
    for (const box of out.children) {
      outputs.boxes += 1;
      // myst-nb marks a stdout box "output stream" and a stderr box "output stderr".
      const stream = box.classList.contains("stderr") ? "stderr" : box.classList.contains("stream") ? "stdout" : null;
      if (stream && stream === prev) keep(outputs.split, describe(box, { stream }));
      const media = "img, svg, canvas, iframe, table, video";
      if (!(box.innerText || "").trim() && !box.matches(media) && !box.querySelector(media)) keep(outputs.empty, describe(box));
      prev = stream;
    }
  }

  // ---- width: boxes that scroll or clip, and anything wider than the viewport -------------------
  const category = (el) => {
    if (el.closest("span.math")) return "inline-math";
    if (el.closest("div.math") || el.matches("mjx-container[display='true']") ||
        el.querySelector(":scope > mjx-container[display='true']")) return "display-math";
    if (el.closest(".cell_input, .cell .highlight") && !el.closest(".cell_output")) return "code-input";
    if (el.closest(".cell_output, .output")) return "code-output";
    if (el.matches("table, .pst-scrollable-table-container, .table-wrapper") || el.closest("table")) return "table";
    if (el.closest("div.highlight, pre")) return "code-block";
    if (el.closest(".bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header-article, nav, .prev-next-area, footer"))
      return "navigation";
    return "other";
  };
  const hideAssistive = document.createElement("style");
  hideAssistive.textContent = "mjx-assistive-mml { display: none !important; }";
  document.head.appendChild(hideAssistive);
  // Content of a box that lies left of its start edge can never be scrolled to (a centred equation
  // wider than its box): that is clipping, even in a box that scrolls.
  const leftCut = (el) => {
    const left = el.getBoundingClientRect().left + el.clientLeft - 1;
    let min = Infinity;
    for (const d of el.querySelectorAll("*")) {
      const r = d.getBoundingClientRect();
      if (r.width > 0) min = Math.min(min, r.left + el.scrollLeft);
    }
    return min < left ? Math.round(left - min) : 0;
  };
  const boxes = [];
  const all = document.body.querySelectorAll("*");
  for (const el of all) {
    // MathJax's own parts (stretchy extenders, assistive MathML) clip by design: only its container counts.
    if ((el.tagName.startsWith("MJX-") && el.tagName !== "MJX-CONTAINER") ||
        el.scrollWidth <= el.clientWidth + 1 || el.clientWidth === 0) continue;
    const cs = getComputedStyle(el);
    if (cs.overflowX === "visible" || cs.textOverflow === "ellipsis" || !visible(el)) continue;
    const cut = leftCut(el);
    const kind = (cs.overflowX === "auto" || cs.overflowX === "scroll") && !cut ? "scrolls" : "clipped";
    const cat = category(el);
    const extra = { kind, category: cat, box: el.clientWidth, content: el.scrollWidth,
                    hidden: el.scrollWidth - el.clientWidth + cut };
    if (cut) extra.leftCut = cut;
    if (cat === "display-math") extra.tex = texFor(el);
    boxes.push(describe(el, extra));
  }
  // Elements that stick out of the viewport and are not inside a box that scrolls or clips them.
  const wide = [];
  const contained = (el) => {
    for (let a = el.parentElement; a && a !== document.body && a !== document.documentElement; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== "visible") return true;
    }
    return false;
  };
  const pokesOut = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 1 && (r.right > vw + 1 || r.left < -1) && getComputedStyle(el).position !== "fixed";
  };
  // Inline offenders (a long `code` in a paragraph, the parts of a signature) are reported once, as
  // the block they sit in, with the widest of them.
  const INLINE = new Set(["inline", "inline-block", "inline-flex", "contents", "inline-grid", "inline-table"]);
  const blockOf = (el) => {
    let b = el;
    while (b.parentElement && b !== document.body && INLINE.has(getComputedStyle(b).display)) b = b.parentElement;
    return b;
  };
  const byBlock = new Map();
  for (const el of all) {
    if (el.closest("mjx-assistive-mml") || !pokesOut(el) || !visible(el) || contained(el)) continue;
    if (el.parentElement && el.parentElement !== document.body && pokesOut(el.parentElement)) continue;  // outermost only
    const block = blockOf(el);
    const r = el.getBoundingClientRect();
    const prev = byBlock.get(block);
    if (!prev || r.right > prev.right) byBlock.set(block, { el, right: r.right, count: (prev ? prev.count : 0) + 1 });
    else prev.count += 1;
  }
  for (const [block, { el, right, count }] of byBlock) {
    const item = describe(block, { category: category(block), right: Math.round(right),
                                   width: Math.round(block.getBoundingClientRect().width) });
    if (el !== block) item.widest = cssPath(el) + " " + JSON.stringify(squash(el.innerText || el.textContent, 70));
    if (count > 1) item.items = count;
    keep(wide, item);
  }

  // ---- tables: columns squeezed too narrow to read --------------------------------------------
  const squeezed = [];
  for (const cell of document.querySelectorAll("main td, main th")) {
    const text = (cell.innerText || "").trim();
    if (text.length > 12 && cell.clientWidth < 64 && visible(cell)) {
      keep(squeezed, describe(cell, { width: cell.clientWidth }));
    }
  }

  // ---- code cells: characters per line that fit, lines longer than that ---------------------
  const code = { cells: 0, lines: 0, fit: null, longLines: 0, longest: 0, examples: [] };
  const pres = [...document.querySelectorAll(".cell_input div.highlight pre")].filter(visible);
  if (pres.length) {
    const pre = pres[0];
    const probe = document.createElement("span");
    probe.textContent = "0".repeat(200);
    pre.appendChild(probe);
    const charW = probe.getBoundingClientRect().width / 200;
    probe.remove();
    const cs = getComputedStyle(pre);
    const avail = pre.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    code.fit = Math.floor(avail / charW + 0.01);
    code.charWidth = Math.round(charW * 100) / 100;
    code.fontSize = cs.fontSize;
    for (const p of pres) {
      code.cells += 1;
      for (const line of p.textContent.replace(/\n$/, "").split("\n")) {
        code.lines += 1;
        code.longest = Math.max(code.longest, line.length);
        if (line.length > code.fit) {
          code.longLines += 1;
          keep(code.examples, { section: sectionOf(p), length: line.length, text: squash(line, 100) });
        }
      }
    }
  }

  hideAssistive.remove();
  return { vw, scrollWidth: document.documentElement.scrollWidth, math, images, solutions, outputs, boxes, wide,
           wideTotal: byBlock.size,
           squeezed, code };
}
