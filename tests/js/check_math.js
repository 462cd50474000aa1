// Render TeX as the notebook front ends do, and report every error.
//
// Reads a JSON array of {"tex": string, "display": boolean} from standard
// input; writes a JSON array with, for each input, the list of errors
// {"engine": ..., "message": ...}: empty when every engine renders it.
//
// Engines:
//   "MathJax 3 (base, ams)"   the TeX input with the packages every MathJax
//                             configuration for notebooks loads;
//   "MathJax 3 (Jupyter)"     the packages JupyterLab and Notebook 7 load
//                             (mathjax-full's AllPackages), less noerrors and
//                             noundefined, which only change how an error is
//                             shown: without them every error is an merror;
//   "KaTeX"                   as in VS Code's notebooks, errors thrown.
// MathJax runs on the liteAdaptor (no browser), the TeX input always and, for
// the Jupyter configuration, the SVG output too: an error is a TeX error
// (caught through formatError), any merror element in the compiled MathML, or
// an exception.  The TeX input's buffer limit
// (maxBuffer, 5,120 characters) is MathJax's default, as in Jupyter.

"use strict";

const { mathjax } = require("mathjax-full/js/mathjax.js");
const { TeX } = require("mathjax-full/js/input/tex.js");
const { SVG } = require("mathjax-full/js/output/svg.js");
const { liteAdaptor } = require("mathjax-full/js/adaptors/liteAdaptor.js");
const { RegisterHTMLHandler } = require("mathjax-full/js/handlers/html.js");
const { AllPackages } = require("mathjax-full/js/input/tex/AllPackages.js");
const { STATE } = require("mathjax-full/js/core/MathItem.js");
const katex = require("katex");

const adaptor = liteAdaptor();
RegisterHTMLHandler(adaptor);

function mathjaxEngine(name, packages, output) {
  const caught = []; // TeX errors as [id, message]
  const tex = new TeX({
    packages,
    formatError: (jax, err) => {
      caught.push([err.id || "TeXError", err.message]);
      return jax.formatError(err);
    },
  });
  const doc = mathjax.document("", { InputJax: tex, OutputJax: new SVG({ fontCache: "none" }) });
  return {
    name,
    check(item) {
      caught.length = 0;
      const errors = [];
      try {
        // What MathDocument.convert does, keeping the item to read its MathML.
        const math = new doc.options.MathItem(item.tex, tex, item.display);
        math.start.node = adaptor.body(doc.document);
        math.setMetrics(16, 8, 80 * 16, 100000, 1);
        math.convert(doc, output ? STATE.LAST : STATE.CONVERT);
        errors.push(...caught.map(([id, message]) => `${id}: ${message}`));
        math.root.walkTree((node) => {
          if (node.isKind("merror")) {
            const message = node.attributes.get("data-mjx-error") || "an merror element";
            if (!caught.some(([, known]) => known === message)) errors.push(`merror: ${message}`);
          }
        });
      } catch (err) {
        errors.push(`exception: ${err.message || err}`);
      }
      return errors;
    },
  };
}

const katexEngine = {
  name: "KaTeX",
  check(item) {
    try {
      katex.renderToString(item.tex, { displayMode: item.display, throwOnError: true });
      return [];
    } catch (err) {
      return [err.message || String(err)];
    }
  },
};

const engines = [
  mathjaxEngine("MathJax 3 (base, ams)", ["base", "ams"], false),
  mathjaxEngine(
    "MathJax 3 (Jupyter)",
    AllPackages.filter((p) => p !== "noerrors" && p !== "noundefined"),
    true,
  ),
  katexEngine,
];

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  input += chunk;
});
process.stdin.on("end", () => {
  const items = JSON.parse(input);
  const report = items.map((item) =>
    engines.flatMap((engine) =>
      engine.check(item).map((message) => ({ engine: engine.name, message })),
    ),
  );
  process.stdout.write(JSON.stringify(report));
});
