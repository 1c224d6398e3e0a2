// Break opportunities inside long names in inline code: `companion.numpy.gradient_flow.input_gradient_norms`
// may wrap after a dot, an underscore or an opening bracket instead of widening the page (a 400 px phone)
// or squeezing the other columns of a table. <wbr> adds no character: copying the text is unchanged.
document.addEventListener("DOMContentLoaded", () => {
  const LONG = 16;  // shorter names never need to break
  for (const span of document.querySelectorAll("code.literal span.pre, .sig span.pre, em.property span.pre")) {
    for (const node of [...span.childNodes]) {
      if (node.nodeType !== Node.TEXT_NODE || node.nodeValue.length < LONG) continue;
      const parts = node.nodeValue.split(/(?<=[._(\[,=/])(?=[^._)\]])/);
      if (parts.length < 2) continue;
      const frag = document.createDocumentFragment();
      parts.forEach((part, i) => {
        if (i) frag.appendChild(document.createElement("wbr"));
        frag.appendChild(document.createTextNode(part));
      });
      span.replaceChild(frag, node);
    }
  }
});
