// The playground's markup: what <quantscope-playground> renders into itself (light DOM,
// so the page's stylesheet and the end-to-end tests see it as they see any page). Ids
// are looked up inside the element, so they name its parts, not the document's.

export const PLAYGROUND_HTML = `
<header class="app-header">
  <div class="brand">
    <h1>quantscope</h1>
    <p class="tagline">Quantization lab for neural-network weights</p>
  </div>
  <div class="header-facts">
    <span id="build-info" class="badge" data-simd128="">loading WebAssembly…</span>
    <a class="badge" href="#train">Train</a>
    <span class="privacy">Files never leave your machine: everything runs in this tab.</span>
  </div>
</header>

<main>
  <div id="error" role="alert" class="error-banner" hidden></div>

  <div class="top">
    <section class="panel open-panel" aria-labelledby="open-title">
      <h2 id="open-title" class="visually-hidden">Open a model</h2>
      <label id="drop-zone" class="drop-zone" for="file-input">
        <input
          id="file-input"
          type="file"
          multiple
          accept=".safetensors,.gguf,.npy,.npz,.onnx,.tflite,.pt,.pth,.bin,.json,.data"
        />
        <strong>Drop a model file here</strong> or click to choose one
        <span class="hint"
          >.safetensors, .gguf, .onnx, .tflite, .pt/.pth/.bin, .npy, .npz; shards or an ONNX model with
          its data file together</span
        >
      </label>
      <div class="model-facts">
        <div id="model-name" class="model-name">—</div>
        <div id="model-stats" class="muted"></div>
        <details id="model-details" class="model-details" hidden>
          <summary>File details</summary>
          <div id="model-graph" class="model-graph"></div>
          <table id="model-meta" class="data-table meta-table">
            <tbody></tbody>
          </table>
        </details>
      </div>
    </section>

    <section class="panel schemes-panel" aria-labelledby="schemes-title">
      <div class="schemes-head">
        <h2 id="schemes-title">Compare</h2>
        <ul id="scheme-chips" class="chips" aria-label="Compared schemes"></ul>
      </div>
      <div class="scheme-form">
        <label class="option family">
          <span>family</span>
          <select id="scheme-family"></select>
        </label>
        <div id="scheme-options" class="scheme-options"></div>
      </div>
      <div class="scheme-text-row">
        <input
          id="scheme-text"
          type="text"
          list="scheme-presets"
          spellcheck="false"
          autocomplete="off"
          aria-label="Scheme string"
          aria-describedby="scheme-help scheme-error"
        />
        <datalist id="scheme-presets"></datalist>
        <button id="scheme-add" type="button" class="primary">Add</button>
        <code id="scheme-help" class="hint grammar"></code>
      </div>
      <p id="scheme-error" class="field-error" aria-live="polite"></p>
    </section>
  </div>

  <div class="layout">
    <section class="panel tensors-panel" aria-labelledby="tensors-title">
      <h2 id="tensors-title">Tensors</h2>
      <div class="scroll">
        <table id="tensor-list" class="data-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Shape</th>
              <th scope="col">Dtype</th>
              <th scope="col" class="num">Size</th>
            </tr>
          </thead>
          <tbody></tbody>
        </table>
      </div>
    </section>

    <section class="panel detail-panel" aria-labelledby="detail-title" aria-busy="false" id="detail">
      <h2 id="detail-title">Select a tensor</h2>
      <p id="detail-sub" class="muted"></p>
      <p id="stored-note" class="stored-note" hidden></p>
      <p id="tensor-facts" class="tensor-facts muted" hidden></p>
      <ul id="scheme-describe" class="describe"></ul>
      <div class="charts">
        <figure class="chart">
          <figcaption>
            Weights, with a quantization grid <span id="grid-note" class="muted"></span>
          </figcaption>
          <div id="grid-toggle" class="toggles" role="group" aria-label="Grid shown"></div>
          <div id="chart-weights" class="chart-body"></div>
        </figure>
        <figure class="chart">
          <figcaption>Error (dequantized − original)</figcaption>
          <div id="chart-error" class="chart-body"></div>
        </figure>
        <div class="metrics-box">
          <h3>Metrics</h3>
          <div class="scroll-x">
            <table id="metrics" class="data-table metrics-table">
              <thead></thead>
              <tbody></tbody>
            </table>
          </div>
        </div>
        <figure class="chart" id="scales-figure" hidden>
          <figcaption>Scales <span id="scales-note" class="muted"></span></figcaption>
          <div id="chart-scales" class="chart-body"></div>
        </figure>
      </div>
    </section>
  </div>

  <section id="layer" class="panel layer-panel" aria-labelledby="layer-title" aria-busy="false">
    <h2 id="layer-title">Float vs int8 outputs</h2>
    <p id="layer-sub" class="muted">Select a 2-D weight or a conv kernel.</p>
    <!-- novalidate: the core checks the numbers and says what is wrong (the browser would
         block Run silently on a row above the last batch's). -->
    <form id="layer-form" class="layer-form" novalidate>
      <label class="option layer-scheme">
        <span>weight scheme</span>
        <input
          id="layer-scheme"
          type="text"
          list="layer-schemes"
          spellcheck="false"
          autocomplete="off"
          aria-describedby="layer-error"
        />
      </label>
      <datalist id="layer-schemes"></datalist>
      <label class="option">
        <span>inputs</span>
        <select id="layer-probe">
          <option value="gaussian">Gaussian N(0, 1)</option>
          <option value="uniform">uniform U[−1, 1)</option>
          <option value="npy">rows of an .npy file</option>
        </select>
      </label>
      <label id="layer-file-field" class="option" hidden>
        <span>.npy of [batch, inputs] or [inputs]</span>
        <input id="layer-file" type="file" accept=".npy" />
      </label>
      <label class="option">
        <span>batch</span>
        <input id="layer-batch" type="number" min="1" step="1" />
      </label>
      <label class="option">
        <span>seed</span>
        <input id="layer-seed" type="number" min="0" step="1" value="0" />
      </label>
      <label class="option">
        <span>row shown</span>
        <input id="layer-row" type="number" min="0" step="1" value="0" />
      </label>
      <button id="layer-run" type="submit" class="primary">Run</button>
      <div class="layer-compared">
        <span class="muted">compared:</span>
        <div
          id="layer-compared"
          class="toggles"
          role="group"
          aria-label="Weight scheme from the compared ones"
        ></div>
      </div>
    </form>
    <p id="layer-error" class="field-error" aria-live="polite"></p>
    <div id="layer-body" class="layer-body" hidden>
      <figure class="chart layer-outputs">
        <figcaption>
          Float and int8 outputs <span id="layer-outputs-note" class="muted"></span>
        </figcaption>
        <div id="chart-layer-outputs" class="chart-body"></div>
      </figure>
      <div class="layer-side">
        <div class="metrics-box">
          <h3>Outputs, whole batch</h3>
          <table id="layer-metrics" class="data-table metrics-table">
            <tbody></tbody>
          </table>
        </div>
        <figure class="chart">
          <figcaption>Output error (int8 − float), whole batch</figcaption>
          <div id="chart-layer-error" class="chart-body"></div>
        </figure>
      </div>
      <details class="layer-values">
        <summary>Numbers <span id="layer-values-note" class="muted"></span></summary>
        <div class="scroll">
          <table id="layer-values" class="data-table">
            <thead>
              <tr>
                <th scope="col" class="num">Output</th>
                <th scope="col" class="num">Float</th>
                <th scope="col" class="num">Int8</th>
                <th scope="col" class="num">Int8 − float</th>
              </tr>
            </thead>
            <tbody></tbody>
          </table>
        </div>
      </details>
    </div>
  </section>

  <section id="export" class="panel export-panel" aria-labelledby="export-title">
    <h2 id="export-title">Download the quantized model</h2>
    <p class="muted">
      Written here, from the file on this machine, with one of the compared schemes: safetensors
      (compressed-tensors names, docs/EXPORT.md), GGUF (llama.cpp), or, for an ONNX model, ONNX with
      QuantizeLinear/DequantizeLinear that ONNX Runtime runs. Tensors a scheme does not apply to are kept
      as they are and listed.
    </p>
    <div class="export-controls">
      <label
        >Format
        <select id="export-format">
          <option value="safetensors">safetensors</option>
          <option value="gguf">GGUF</option>
          <option value="onnx" disabled>ONNX (QDQ)</option>
        </select>
      </label>
      <label
        >Scheme
        <select id="export-scheme"></select
      ></label>
      <button id="export-run" type="button">Write and download</button>
      <span id="export-status" class="muted" aria-live="polite"></span>
    </div>
    <p class="export-links"><a id="export-file" hidden></a> <a id="export-report" hidden></a></p>
    <ul id="export-notes" class="export-notes"></ul>
  </section>

  <section id="whole" class="panel whole-panel" aria-labelledby="whole-title" aria-busy="false" hidden>
    <h2 id="whole-title">Whole model: float vs quantized</h2>
    <p class="muted">
      The ONNX model itself runs here (tract, in a worker), float and with every MatMul/Gemm/Conv weight
      quantized (and, in the full mode, the activations those ops read, per tensor as ONNX Runtime's
      static QDQ does). <b>Accumulated</b>: each node's output with the whole model quantized, against the
      float model's: how far the model has drifted by then. <b>Isolated</b>: only that node's weight
      quantized, fed the float model's inputs: the error born at that node. The same numbers as
      <code>quantscope run --json</code>.
    </p>
    <form id="whole-form" class="whole-controls" novalidate>
      <label
        >Scheme <input id="whole-scheme" list="layer-schemes" value="int8-sym-ch0" size="16"
      /></label>
      <label
        >Mode
        <select id="whole-mode">
          <option value="weights">weights</option>
          <option value="full">weights and activations</option>
        </select>
      </label>
      <label>Activations <input id="whole-act" value="ort-uint8-asym" size="16" /></label>
      <label>Dimensions <input id="whole-dims" placeholder="x.2=640, x.3=640" size="20" /></label>
      <label>Seed <input id="whole-seed" type="number" value="0" min="0" step="1" /></label>
      <label>Inputs <input id="whole-inputs" type="file" accept=".npz,.npy" /></label>
      <button id="whole-run" type="submit">Run the model</button>
      <button id="whole-cancel" type="button" disabled>Cancel</button>
    </form>
    <p>
      <progress id="whole-progress" hidden></progress>
      <span id="whole-status" class="muted" aria-live="polite"></span>
    </p>
    <div id="whole-body" hidden>
      <div id="chart-whole" class="chart"></div>
      <div class="whole-columns">
        <div>
          <h3>Worst nodes (isolated damage)</h3>
          <table id="whole-worst" class="whole-table"></table>
        </div>
        <div>
          <h3>Selected node</h3>
          <pre id="whole-node" class="whole-node">Click a node in the chart or the list.</pre>
        </div>
      </div>
      <h3>Outputs, float vs quantized</h3>
      <table id="whole-outputs" class="whole-table"></table>
      <p><code id="whole-exclude"></code></p>
      <p>
        <button id="whole-download" type="button">Download the QDQ model</button>
        <a id="whole-file" hidden></a>
      </p>
      <script id="whole-report" type="application/json"></script>
    </div>
  </section>

  <section id="auto" class="panel auto-panel" aria-labelledby="auto-title" aria-busy="false" hidden>
    <h2 id="auto-title">Automatic mix: the best scheme per tensor under a size budget</h2>
    <p class="muted">
      Each candidate's damage with only that tensor quantized is measured once (the model's outputs on the
      probe inputs, a classifier's accuracy on labelled inputs, or the weights' own error); an exact
      knapsack over those gives the Pareto front, and the budget picks a mix from it at once. The sum of
      isolated damages is an estimate: <b>Measure this mix</b> runs the model with the whole mix. Same as
      <code>quantscope auto MODEL --budget 4.5bpw --json</code>.
    </p>
    <form id="auto-form" class="whole-controls" novalidate>
      <label>Candidates <input id="auto-candidates" size="60" placeholder="default list" /></label>
      <label
        >Objective
        <select id="auto-objective">
          <option value="output">output error</option>
          <option value="accuracy">accuracy (labelled inputs)</option>
          <option value="weights">weight error (a proxy)</option>
        </select></label
      >
      <label
        >For a file of
        <select id="auto-for" title="Keep to the candidates one file of this format stores: GGUF holds ggml types, ONNX QDQ and safetensors linear codes">
          <option value="">any format (a mix may fit none)</option>
          <option value="onnx">ONNX</option>
          <option value="gguf">GGUF</option>
          <option value="safetensors">safetensors</option>
        </select></label
      >
      <label>Inputs <input id="auto-inputs" type="file" accept=".npz,.npy" /></label>
      <label>Labels array <input id="auto-labels" size="6" placeholder="y" /></label>
      <label>Dimensions <input id="auto-dims" placeholder="x.2=640, x.3=640" size="18" /></label>
      <label>Seed <input id="auto-seed" type="number" value="0" min="0" step="1" /></label>
      <button id="auto-run" type="submit">Measure</button>
      <button id="auto-cancel" type="button" disabled>Cancel</button>
    </form>
    <p>
      <progress id="auto-progress" hidden></progress>
      <span id="auto-status" class="muted" aria-live="polite"></span>
    </p>
    <p id="auto-proxy" class="muted" hidden>
      The weights objective is a proxy: rankings by weight error can disagree with how much each tensor
      moves the model's outputs. Prefer the output or accuracy objective where the model runs.
    </p>
    <div id="auto-body" hidden>
      <div id="chart-auto" class="chart"></div>
      <p class="auto-budget">
        <label
          >Budget (bits per weight)
          <input id="auto-bpw" type="range" min="1" max="32" step="0.05" value="4.5" />
        </label>
        <label>bytes <input id="auto-bytes" type="number" min="0" step="1" size="12" /></label>
      </p>
      <p id="auto-summary"></p>
      <p>
        <button id="auto-check" type="button">Measure this mix</button>
        <label
          >Export
          <select id="auto-format">
            <option value="onnx">ONNX (QDQ per node)</option>
            <option value="gguf">GGUF (a type per tensor)</option>
            <option value="safetensors">safetensors</option>
          </select></label
        >
        <button id="auto-export" type="button">Write the mix</button>
        <a id="auto-file" hidden></a>
        <a id="auto-policy" hidden>policy.json</a>
      </p>
      <div class="scroll"><table id="auto-table" class="data-table"></table></div>
      <pre id="auto-recipes"></pre>
    </div>
  </section>

  <section class="panel summary-panel" aria-labelledby="summary-title">
    <div class="summary-head">
      <h2 id="summary-title">Whole model <span id="summary-scheme" class="muted"></span></h2>
      <div class="summary-controls">
        <progress id="progress" max="1" value="0"></progress>
        <span id="progress-text" class="muted" aria-live="polite"></span>
        <label
          class="workers-control"
          title="Web Workers that share the whole-model work; each holds a copy of the model"
        >
          <span>Workers</span>
          <select id="workers"></select>
        </label>
        <button id="cancel-summary" type="button" disabled>Cancel</button>
        <button id="rerun-summary" type="button" disabled>Run again</button>
      </div>
    </div>
    <div class="scroll">
      <table id="summary" class="data-table sortable" data-state="idle">
        <thead></thead>
        <tbody></tbody>
      </table>
    </div>
  </section>
  <section id="train" class="panel train-panel" aria-labelledby="train-title" data-state="idle"></section>
</main>
  
`;
