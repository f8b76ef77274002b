# ruff: noqa: E501  (JavaScript in a string: its lines are the script's, not Python's)
"""The live report's script: reads the sizes typed in the page, evaluates the compiled formulas
(`F`, convplan.report.jsformula) and rewrites the table, cards, memory, diagram, field picture
and charts. It mirrors, line for line, what the Python it names computes:

- `check`: convplan.analysis.shapes' window, cropping and merge checks, then analyze's int64
  and empty-output checks, in analyze's order, with the CLI's one-line message;
- `tabledField`: the fields with no formula, from convplan.report.live_fields' tables;
- `memoryAt`: convplan.analysis.memory's peak (first step of the largest live bytes among the
  candidates) and convplan.report.json_report.memory_dict;
- `count`, `bytes`, `g3`: convplan.options.format_count / format_bytes (Python's '.3g',
  ties to even);
- `shapeText`, `axesText`: convplan.report.formatting;
- `planAt`, `quantization`: convplan.analysis.timing.time_plan and matrix_quantization (in
  floats, in the same order), `timeAt` and `drawTime`: convplan.report.time_report.

Text from the spec is only ever set as textContent or passed through `esc` into SVG.
The last update's time (performance.now) is in `window.cpLastUpdateMs`.
"""

SCRIPT = r"""
const M = JSON.parse(document.getElementById('cp-model').textContent);
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g,
  (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'})[c]);
const LIMIT = BigInt(M.limit);
const HEADERS = 9;
let picked = null;

// ---------------------------------------------------------------- numbers as convplan prints
function g3(x) {  // Python's f"{x:.3g}" for a finite x >= 0
  if (x === 0) return '0';
  let s = x.toExponential(2);
  const fine = x.toExponential(20);
  const digits = fine.split('e')[0].replace('.', '');
  if (/^\d{3}50*$/.test(digits)) {  // an exact tie: Python rounds half to even
    let head = BigInt(digits.slice(0, 3));
    if (head % 2n === 1n) head += 1n;
    let e = parseInt(fine.split('e')[1], 10);
    if (head === 1000n) { head = 100n; e += 1; }
    const h = head.toString();
    s = h[0] + '.' + h.slice(1) + 'e' + (e < 0 ? '-' : '+') + Math.abs(e);
  }
  let [m, ex] = s.split('e');
  const e = parseInt(ex, 10);
  if (e < -4 || e >= 3) {
    m = m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m;
    return m + 'e' + (e < 0 ? '-' : '+') + String(Math.abs(e)).padStart(2, '0');
  }
  const d = m.replace('.', '');
  let out = e >= 2 ? d : e >= 0 ? d.slice(0, e + 1) + '.' + d.slice(e + 1)
    : '0.' + '0'.repeat(-e - 1) + d;
  if (out.includes('.')) out = out.replace(/0+$/, '').replace(/\.$/, '');
  return out;
}
const DECIMAL = [[10n ** 12n, 'T'], [10n ** 9n, 'G'], [10n ** 6n, 'M'], [10n ** 3n, 'K']];
const BINARY = [[2n ** 40n, ' TiB'], [2n ** 30n, ' GiB'], [2n ** 20n, ' MiB'], [2n ** 10n, ' KiB']];
function prefixed(v, table) {  // convplan.options._with_prefix
  const a = v < 0n ? -v : v;
  for (let i = 0; i < table.length; i++) {
    let [f, p] = table[i];
    if (a >= f) {
      let t = g3(Math.abs(Number(v) / Number(f)));
      if (t.includes('e') && i > 0) { [f, p] = table[i - 1]; t = g3(Math.abs(Number(v) / Number(f))); }
      return (v < 0n ? '-' : '') + t + p;
    }
  }
  return null;
}
const count = (v) => v === null ? '-' : (prefixed(v, DECIMAL) ?? String(v));
const bytes = (v) => prefixed(v, BINARY) ?? (String(v) + ' B');
const exact = (v) => String(v).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
const json = (v) => v === null ? null : typeof v === 'bigint' ? v.toString() : Number(v);
const axesText = (vs) => { const p = vs.map(String); return new Set(p).size > 1 ? p.join('x') : p[0]; };
const shapeText = (dims, batch) => '(' + [batch === null ? 'None' : String(batch), ...dims.map(String)].join(', ') + ')';
const fmt = (dims) => '(None, ' + dims.map(String).join(', ') + ')';
const tuple = (dims) => '(' + dims.map(String).join(', ') + (dims.length === 1 ? ',)' : ')');
const oneLine = (s) => s.trim().split(/\s+/).join(' ');

// ---------------------------------------------------------------- the sizes typed in
function readState() {
  const sizes = [], typed = [];
  let error = null;
  M.symbols.forEach((s, i) => {
    const text = $('cp-size-' + i).value.trim();
    typed.push(text);
    if (!/^-?\d+$/.test(text) && error === null) error = 'format';
    sizes.push(/^-?\d+$/.test(text) ? BigInt(text) : 0n);
  });
  const joined = typed.join('x');
  if (error === null && sizes.some((v) => v < 1n)) error = 'positive';
  if (error === null && typed.some((t) => t.length > 9)) error = 'format';
  let message = null;
  if (error === 'format') message = "convplan: error: --input-size must look like 224x224 (HxW), " +
    "16x64x64 (DxHxW) or 100 (length), received '" + joined + "'";
  else if (error === 'positive') message = "convplan: error: --input-size dimensions must be positive, received '" + joined + "'";
  const b = $('cp-batch').value.trim();
  let batch = null;
  if (b !== '') {
    if (!/^\d+$/.test(b) || BigInt(b) < 1n) message = message ?? ("convplan: Error: Invalid value for '--batch': " + b + " is not in the range x>=1.");
    else batch = BigInt(b);
  }
  return {sizes, batch, dtype: $('cp-dtype').value, optimizer: $('cp-optimizer').value, message,
    device: $('cp-device').value, step: $('cp-step').value};
}

// ---------------------------------------------------------------- the CLI's checks
function template(parts, get, shapes) {
  return parts.map((p) => typeof p === 'string' ? p : p.shapes
    ? shapes.map(fmt).join(' and ') : String(get(p.f))).join('');
}
function mergeFails(m, get) {  // shapes.broadcast_shape / concatenate_shape at numbers
  const shapes = m.shapes.map((s) => s.map(get));
  const rank = Math.max(...shapes.map((s) => s.length));
  const aligned = shapes.map((s) => [...Array(rank - s.length).fill(1n), ...s]);
  const out = aligned[0].slice();
  for (const other of aligned.slice(1)) {
    for (let axis = 0; axis < rank; axis++) {
      if (axis === m.skip) continue;
      const a = out[axis], b = other[axis];
      if (a === b) continue;
      if (m.broadcast && a === 1n) { out[axis] = b; continue; }
      if (m.broadcast && b === 1n) continue;
      return shapes;
    }
  }
  return null;
}
const where = (layer) => layer.where;  // SpecError's "layer 'name' (Op): ", from Python
function check(get, dims) {  // the first error analyze raises, as [layer index, CLI line]
  const line = (i, text) => [i, 'convplan: error: ' + oneLine(text)];
  for (let i = 0; i < M.layers.length; i++) {
    for (const c of M.layers[i].checks) {
      if (c.le0 !== undefined && get(c.le0) <= 0n) return line(i, template(c.msg, get));
      if (c.merge) { const bad = mergeFails(c.merge, get); if (bad) return line(i, template(c.msg, get, bad)); }
    }
  }
  const int64 = (i, what, v) => line(i, where(M.layers[i]) + what + ' would be ' + g3(Number(v)) +
    ', beyond what TensorFlow can represent (int64: at most 2**63 - 1)');
  const elements = (d) => d.reduce((x, y) => x * y, 1n);
  for (let i = 0; i < M.layers.length; i++) {
    for (const d of dims[i]) if (d >= LIMIT) return int64(i, 'an output dim', d);
    if (elements(dims[i]) >= LIMIT) return int64(i, "the output's elements per example", elements(dims[i]));
  }
  for (let i = 0; i < M.layers.length; i++) {
    if (M.layers[i].op !== 'InputLayer' && dims[i].some((d) => d <= 0n))
      return line(i, where(M.layers[i]) + 'output shape ' + tuple(dims[i]) + ' has an empty dimension');
    const params = get(M.layers[i].tp) + get(M.layers[i].ntp);
    if (params >= LIMIT) return int64(i, 'its parameters', params);
  }
  return null;
}

// ---------------------------------------------------------------- memory, as analyze's JSON
function peak(steps, size) {
  let best = null, bestBytes = 0n;
  for (const [phase, layer, live] of steps) {
    let sum = 0n;
    for (const k of live) sum += size(k);
    if (best === null || sum > bestBytes) { best = [phase, layer, live]; bestBytes = sum; }
  }
  return [bestBytes, best];
}
function memoryAt(get, totals, scale, dtype, optimizer) {
  const mem = M.memory[dtype];
  const [compute, variable] = M.dtypes[dtype].map(BigInt);
  const sizes = mem.tensors.map(([fixed, per]) => get(fixed) + scale * get(per));
  const size = (k) => sizes[k];
  const [live, step] = peak(mem.training, size);
  const [inference] = peak(mem.inference, size);
  const weights = get(mem.variables);
  const slots = BigInt(M.optimizers[optimizer]) * totals.trainable_params * variable;
  const data = scale * get(mem.data);
  const role = (g) => step === null ? null : step[2].filter((k) => mem.tensors[k][2] === g)
    .reduce((x, k) => x + size(k), 0n);
  return {
    batch: scale, dtype, optimizer, activation_bytes_per_example: totals.activations * compute,
    convention: 'fused', weights_bytes: weights, gradients_bytes: role(1), optimizer_bytes: slots,
    batch_bytes: data, activations_bytes: role(0), live_bytes: live,
    total_bytes: weights + slots + data + live,
    inference_bytes: weights + scale * get(mem.input_bytes) + inference,
    peak_step: step === null ? null : {phase: step[0], layer: step[1]},
  };
}

// ---------------------------------------------------------------- time, as analyze --device
const T = M.time;
function ceilTo(n, m) { return (n + m - 1n) / m * m; }
function quantization(chip, dtype, rows, cin, cout) {  // timing.matrix_quantization, concrete dims
  if (chip.kind === 'cpu') return 1.0;
  let q = 1.0;
  if (chip.kind === 'tpu') {
    for (const [n, m] of [[cin, BigInt(chip.lanes)], [cout, BigInt(chip.lanes)], [rows, 8n]])
      if (n > 0n) q *= Number(ceilTo(n, m)) / Number(n);
    return q;
  }
  const multiple = BigInt(T.tensor_core[dtype] ?? 1);
  const coutPad = ceilTo(cout, multiple);
  if (cin > 0n) q *= Number(ceilTo(cin, multiple)) / Number(cin);
  if (rows > 0n && cout > 0n) {
    const tileN = [32n, 64n, 128n].find((n) => n >= coutPad) ?? 128n;
    const units = BigInt(chip.units);
    const tiles = ((rows + 127n) / 128n) * ((coutPad + tileN - 1n) / tileN);
    const waves = (tiles + units - 1n) / units;
    q *= Number(waves * units * 128n * tileN) / Number(rows * cout);
  } else if (cout > 0n) q *= Number(coutPad) / Number(cout);
  return q;
}
const ratio = (a, b) => b === 0 ? 0.0 : a / b;
function planAt(get, chip, dtype, batch, training, optimizer) {  // timing.time_plan
  const peak = chip.peak[dtype], vector = chip.vector, size = String(T.itemsize[dtype]);
  const moved = T.layers.map((t) => {
    const [f0, f1, t0, t1] = t.bytes[size].map(get);
    return training ? t0 + batch * t1 : f0 + batch * f1;
  });
  // timing.time_plan: in a training step every layer at the rate of the whole step's bytes
  // (its working set), at inference each at the rate of its own (layer_bandwidth)
  const rateOf = (nbytes) => chip.cache_bytes && chip.cache_bandwidth &&
    Number(nbytes) <= chip.cache_bytes ? Math.max(chip.cache_bandwidth, chip.bandwidth) : chip.bandwidth;
  const stepRate = rateOf(moved.reduce((a, b) => a + b, 0n));
  const layers = M.layers.map((l, i) => {
    const t = T.layers[i];
    const nbytes = moved[i];
    const flops = get(l.flops);
    let matrix = get(t.mx);
    if (matrix > flops) matrix = flops;
    let q = 1.0, qv = 1.0;
    if (l.inputs.length && matrix !== 0n) {
      if (t.q) q = quantization(chip, dtype, batch * get(t.pos), get(t.cin), get(t.cout));
    } else if (t.dw && chip.kind === 'tpu') {
      const c = get(t.cout);
      qv = Number(ceilTo(c, 128n)) / Number(c);
    }
    const other = t.dw || t.sep ? chip.depthwise : vector;
    // passes of the matrix and the other FLOPs (timing.step_passes: only the gradients a step computes)
    const [mp, op] = training ? t.tp.map(BigInt) : [1n, 1n];
    const compute = Number(batch) * (Number(matrix) * q * Number(mp) / peak + Number(flops - matrix) * qv * Number(op) / other);
    const memory = Number(nbytes) / (training ? stepRate : rateOf(nbytes));
    const counted = batch * (matrix * mp + (flops - matrix) * op);
    return {name: l.name, op: l.op, flops: counted, bytes: nbytes,
      intensity: nbytes === 0n ? 0.0 : Number(counted) / Number(nbytes),
      lower_s: Math.max(compute, memory), upper_s: compute + memory,
      bound: compute > memory ? 'compute' : 'memory', compute_s: compute, memory_s: memory, quantization: q};
  });
  let optimizer_s = 0.0;
  if (training) {
    const update = (3n + 2n * BigInt(M.optimizers[optimizer])) * BigInt(T.variable[dtype]);
    optimizer_s = Number(get(T.trainable) * update) / chip.bandwidth;
  }
  let lower = 0.0, upper = 0.0, spent = 0.0;
  for (const t of layers) { lower += t.lower_s; upper += t.upper_s; if (t.bound === 'memory') spent += t.lower_s; }
  lower += optimizer_s; upper += optimizer_s;
  const b = Number(batch);
  return {layers, lower_s: lower, upper_s: upper, optimizer_s, training, batch,
    totals: {lower_s: lower, upper_s: upper, images_per_s: {from_lower: ratio(b, lower), from_upper: ratio(b, upper)},
      optimizer_s, memory_bound_share: ratio(spent, lower)}};
}
function timeAt(get, state) {  // null (no device), {error}, or time_report.time_json's entry
  if (T === null || state.device === '') return null;
  const chip = T.devices.find((d) => d.name === state.device);
  if (chip.refused[state.dtype]) return {error: chip.refused[state.dtype]};
  const batch = state.batch ?? 1n, training = state.step === 'training';
  const plan = planAt(get, chip, state.dtype, batch, training, state.optimizer);
  const doc = {model: T.model, device: chip.name, measured: chip.measured, dtype: state.dtype,
    batch: Number(batch), step: state.step, layers: plan.layers.map((t) => ({...t,
      flops: Number(t.flops), bytes: Number(t.bytes)})), totals: plan.totals};
  if (training) doc.inference_totals = planAt(get, chip, state.dtype, batch, false, state.optimizer).totals;
  return {doc, plan, chip};
}
function seconds(x) {  // time_report.format_seconds
  for (const [scale, unit] of [[1.0, 's'], [1e-3, 'ms'], [1e-6, 'us'], [1e-9, 'ns']])
    if (x >= scale) return g3(x / scale) + ' ' + unit;
  return x === 0 ? '0 s' : g3(x / 1e-9) + ' ns';
}
const rate = (x) => x >= 100 ? exact(Math.round(x)) : g3(x);  // time_report._rate
const flopCount = (x) => prefixed(x, DECIMAL) ?? String(x);
let timeKey = null;
function drawTime(r) {
  const table = $('cp-time'), err = $('cp-time-error'), lines = $('cp-time-lines');
  const t = r.error ? null : r.time;
  err.hidden = !(t && t.error);
  err.textContent = t && t.error ? t.error : '';
  table.hidden = !(t && t.doc);
  if (!(t && t.doc)) { lines.textContent = ''; $('cp-time-head').textContent = t ? '' : (r.error ? '' :
    'Pick a device to see the time bounds per layer (convplan analyze --device).'); return; }
  const {plan, chip, doc} = t;
  const step = plan.training ? 'training step' : 'forward pass';
  $('cp-time-head').textContent = 'time on ' + chip.name + ' (' + (chip.measured ? 'measured' : 'datasheet, never measured') +
    '), ' + doc.dtype + ', batch ' + plan.batch + ', ' + step + '; ' + T.model;
  const body = table.tBodies[0];
  if (timeKey !== M.layers.length) {
    body.textContent = '';
    M.layers.forEach(() => { const tr = body.insertRow(); for (let c = 0; c < 9; c++) { const td = tr.insertCell(); if (c < 2 || c === 5) td.className = 'l'; } });
    const foot = table.tFoot; foot.textContent = '';
    const tr = foot.insertRow(); for (let c = 0; c < 9; c++) { const td = tr.insertCell(); if (c < 2) td.className = 'l'; }
    timeKey = M.layers.length;
  }
  plan.layers.forEach((x, i) => {
    const c = body.rows[i].cells;
    const texts = [x.name, x.op, flopCount(x.flops), bytes(x.bytes), g3(x.intensity), x.bound,
      seconds(x.lower_s), seconds(x.upper_s), g3(x.quantization)];
    texts.forEach((s, k) => cell(c[k], s));
  });
  let flops = 0n, nb = 0n;
  for (const x of plan.layers) { flops += x.flops; nb += x.bytes; }
  const f = table.tFoot.rows[0].cells;
  ['total', '', flopCount(flops), bytes(nb), g3(nb === 0n ? 0 : Number(flops) / Number(nb)), '',
    seconds(plan.lower_s), seconds(plan.upper_s), ''].forEach((s, k) => cell(f[k], s));
  const out = [];
  if (plan.training) out.push('optimizer update ' + seconds(plan.optimizer_s) + ' (memory-bound; in both totals)');
  const tot = plan.totals;
  out.push(step + ': ' + seconds(tot.lower_s) + ' to ' + seconds(tot.upper_s) + ', ' + rate(tot.images_per_s.from_upper) +
    ' to ' + rate(tot.images_per_s.from_lower) + ' images/s; memory-bound layers ' +
    Math.round(tot.memory_bound_share * 100) + '% of the lower bound');
  if (doc.inference_totals) {
    const it = doc.inference_totals;
    out.push('forward pass: ' + seconds(it.lower_s) + ' to ' + seconds(it.upper_s) + ', ' +
      rate(it.images_per_s.from_upper) + ' to ' + rate(it.images_per_s.from_lower) + ' images/s');
  }
  lines.innerHTML = out.map(() => '<p class=setting></p>').join('');
  out.forEach((s, k) => { lines.children[k].textContent = s; });
}

// ---------------------------------------------------------------- one evaluation
// a field with no formula, from its table per axis (convplan.report.live_fields): the entry of
// the axis's size below n0, else base + k * step of its residue class, k = (n - n0) / p
const tableNumber = (x) => typeof x === 'string' ? q(...x.split('/').map(BigInt)) : BigInt(x);
function tableValue(base, step, k) {
  if (base === null) return null;
  if (Array.isArray(base)) return base.map((b, i) => tableValue(b, step === null ? null : step[i], k));
  return typeof base === 'string' ? tableNumber(base) : BigInt(base) + (step === null ? 0n : BigInt(step) * k);
}
function tabledField(tables, v) {
  const axes = tables.map((t) => {
    const n = v[t.sym];
    if (n < BigInt(t.n0)) return n < 1n ? null : tableValue(t.small[Number(n) - 1], null, 0n);
    const k = (n - BigInt(t.n0)) / BigInt(t.p), r = Number((n - BigInt(t.n0)) % BigInt(t.p));
    return tableValue(t.base[r], t.step[r], k);
  });
  if (axes.some((a) => a === null)) return null;
  return axes.map(([size, stride, start, phases]) => ({size, stride, start, phases}));
}
function evaluate(state) {
  const cache = new Array(F.length);
  const v = state.sizes;
  const get = (i) => { let x = cache[i]; if (x === undefined) x = cache[i] = F[i](v); return x; };
  const dims = M.layers.map((l) => l.shape.map(get));
  const error = state.message ? [null, state.message] : check(get, dims);
  if (error) return {error};
  const scale = state.batch ?? 1n;
  const [compute] = M.dtypes[state.dtype].map(BigInt);
  const layers = M.layers.map((l, i) => ({
    name: l.name, op: l.op, dims: dims[i], params: get(l.tp) + get(l.ntp),
    trainable_params: get(l.tp), non_trainable_params: get(l.ntp),
    macs: get(l.macs) * scale, flops: get(l.flops) * scale, activations: get(l.act) * scale,
    act_bytes: get(l.act) * compute * scale,
    rf: l.rft ? tabledField(l.rft, v) : l.rf === null ? null : l.rf.map((a) => ({size: get(a.size), stride: get(a.stride),
      start: get(a.start), phases: a.phases === null ? null
        : a.phases.map((p) => p === null ? null : [get(p[0]), get(p[1])])})),
  }));
  const t = {};
  for (const k in M.totals) t[k] = get(M.totals[k]);
  const totals = {params: t.params, trainable_params: t.trainable_params,
    non_trainable_params: t.non_trainable_params, macs: t.macs * scale, flops: t.flops * scale,
    activations: t.activations * scale, act_bytes: t.activations * compute * scale};
  return {layers, totals, memory: memoryAt(get, t, scale, state.dtype, state.optimizer),
          batch: state.batch, compute, time: timeAt(get, state)};
}

// what `analyze --format json` prints, from an evaluation (the browser test compares them)
function asJson(r) {
  if (r.error) return {error: r.error[1]};
  const b = r.batch === null ? null : json(r.batch);
  const mem = {};
  for (const k in r.memory) mem[k] = typeof r.memory[k] === 'bigint' ? json(r.memory[k]) : r.memory[k];
  return {
    output_shapes: Object.fromEntries(M.outputs.map((i) => [M.layers[i].name, [b, ...r.layers[i].dims.map(json)]])),
    totals: Object.fromEntries(['params', 'trainable_params', 'non_trainable_params', 'macs',
      'flops', 'activations'].map((k) => [k, json(r.totals[k])])),
    memory: mem,
    ...(r.time === null ? {} : r.time.error ? {time_error: r.time.error} : {time: r.time.doc}),
    layers: r.layers.map((l, i) => ({name: l.name, op: l.op, output_shape: [b, ...l.dims.map(json)],
      params: json(l.params), trainable_params: json(l.trainable_params),
      non_trainable_params: json(l.non_trainable_params), macs: json(l.macs), flops: json(l.flops),
      activations: json(l.activations), receptive_field: l.rf === null ? (M.layers[i].rfdep ? 'size-dependent' : null) : {
        size: l.rf.map((a) => json(a.size)), stride: l.rf.map((a) => json(a.stride)),
        start: l.rf.map((a) => json(a.start)),
        phases: l.rf.map((a) => a.phases === null ? null
          : a.phases.map((p) => p === null ? null : [json(p[0]), json(p[1])]))}})),
  };
}

// ---------------------------------------------------------------- drawing
function cell(td, text, exactValue) {  // writes only what changed (a write costs a relayout)
  if (td.textContent !== text) td.textContent = text;
  if (exactValue === undefined || exactValue === null) td.removeAttribute('data-exact');
  else if (td.dataset.exact !== String(exactValue)) td.dataset.exact = String(exactValue);
}
function buildTable() {
  const body = $('cp-table').tBodies[0];
  body.textContent = '';
  M.layers.forEach((l, i) => {
    const tr = body.insertRow();
    tr.dataset.layer = String(i);
    for (let c = 0; c < HEADERS; c++) { const td = tr.insertCell(); if (c < 3) td.className = 'l'; }
    tr.addEventListener('click', () => pick(i));
  });
  let foot = $('cp-table').tFoot;
  if (!foot) { foot = $('cp-table').createTFoot(); }
  foot.textContent = '';
  const tr = foot.insertRow();
  for (let c = 0; c < HEADERS; c++) { const td = tr.insertCell(); if (c < 3) td.className = 'l'; }
}
let tableRows = null;  // [row, its cells] per layer
function drawTable(r) {
  if (tableRows === null) tableRows = [...$('cp-table').tBodies[0].rows].map((tr) => [tr, [...tr.cells]]);
  const bad = r.error ? r.error[0] : -1;
  M.layers.forEach((l, i) => {
    const [tr, c] = tableRows[i];
    if (tr.classList.contains('bad') !== (i === bad)) tr.classList.toggle('bad', i === bad);
    cell(c[0], l.name); cell(c[1], l.op);
    if (r.error) {
      cell(c[2], i === bad ? r.error[1] : '');
      for (let k = 3; k < HEADERS; k++) cell(c[k], '');
      return;
    }
    const x = r.layers[i];
    cell(c[2], shapeText(x.dims, r.batch));
    cell(c[3], count(x.params), x.params); cell(c[4], count(x.macs), x.macs);
    cell(c[5], count(x.flops), x.flops); cell(c[6], bytes(x.act_bytes), x.act_bytes);
    const dep = l.rfdep ? 'size-dependent' : '-';  // no formula: `convplan analyze` gives it
    cell(c[7], x.rf ? axesText(x.rf.map((a) => a.size)) : dep);
    cell(c[8], x.rf ? axesText(x.rf.map((a) => a.stride)) : dep);
  });
  const f = $('cp-table').tFoot.rows[0].cells;
  const t = r.error ? null : r.totals;
  const texts = t ? ['total', '', '', count(t.params), count(t.macs), count(t.flops), bytes(t.act_bytes), '', '']
    : ['total', '', '', '', '', '', '', '', ''];
  const exacts = t ? [null, null, null, t.params, t.macs, t.flops, t.act_bytes, null, null] : [];
  texts.forEach((s, k) => cell(f[k], s, exacts[k]));
}
function drawCards(r) {
  const box = $('cp-cards');
  if (r.error) { box.textContent = ''; return; }
  const m = r.memory;
  const cards = [[count(r.totals.params), 'params', r.totals.params], [count(r.totals.macs), 'MACs', r.totals.macs],
    [count(r.totals.flops), 'FLOPs', r.totals.flops], [bytes(r.totals.act_bytes), 'act. mem', r.totals.act_bytes],
    [bytes(m.total_bytes), 'training memory', m.total_bytes], [bytes(m.inference_bytes), 'inference memory', m.inference_bytes]];
  box.innerHTML = cards.map(([v, label, x]) => '<div class=card data-exact="' + x + '"><b>' + esc(v) +
    '</b><span>' + esc(label) + '</span></div>').join('');
}
const MEMORY_ROWS = [['weights_bytes', 'weights'], ['optimizer_bytes', 'optimizer slots'],
  ['batch_bytes', 'batch (inputs and float32 targets)'], ['live_bytes', 'live tensors at the peak'],
  ['gradients_bytes', '  of which gradients'], ['activations_bytes', '  of which activations, kept, workspace'],
  ['total_bytes', 'training peak'], ['inference_bytes', 'inference peak'],
  ['activation_bytes_per_example', 'activations per example']];
function drawMemory(r) {
  const body = $('cp-memory').tBodies[0];
  body.textContent = '';
  if (r.error) return;
  const m = r.memory;
  for (const [key, label] of MEMORY_ROWS) {
    const tr = body.insertRow(); tr.dataset.key = key;
    const a = tr.insertCell(); a.className = 'l'; a.textContent = label;
    const v = m[key];
    cell(tr.insertCell(), v === null ? '-' : bytes(v), v);
    cell(tr.insertCell(), v === null ? '-' : exact(v) + ' B');
  }
  const tr = body.insertRow(); tr.dataset.key = 'peak_step';
  const a = tr.insertCell(); a.className = 'l'; a.textContent = 'peak step';
  const s = tr.insertCell(); s.colSpan = 2; s.className = 'l';
  s.textContent = m.peak_step ? m.peak_step.phase + ' ' + m.peak_step.layer : '-';
  s.dataset.exact = JSON.stringify(m.peak_step);
  $('cp-setting').textContent = 'input ' + M.inputs.map((i) => M.layers[i].name + ' ' +
    shapeText(r.layers[i].dims, r.batch)).join(', ') + '; ' + (r.batch === null ? 'per example (batch 1)'
    : 'batch ' + r.batch) + '; ' + m.dtype + '; ' + m.optimizer;
}

const BOX_W = 190, BOX_H = 46, ROW_H = 70, COL_W = 230;
let boxes = null;  // per layer: [rect, shape text, field text], made once
function buildDiagram() {
  const xs = M.places.map((p) => p[0]);
  const x0 = Math.min(...xs), depth = Math.max(...M.places.map((p) => p[1]));
  const pos = M.places.map(([x, d]) => [(x - x0) * COL_W + 10, d * ROW_H + 10]);
  const width = (Math.max(...xs) - x0) * COL_W + BOX_W + 110, height = depth * ROW_H + BOX_H + 20;
  const out = [];
  M.layers.forEach((l, i) => {
    for (const j of l.inputs) {
      const [ax, ay] = pos[j], [bx, by] = pos[i];
      const rows = M.places[i][1] - M.places[j][1];
      if (rows > 1 && ax === bx) {  // a skip edge: out to the right of the boxes it passes, and back
        const lane = ax + BOX_W + 12 + 6 * Math.min(rows, 12);
        out.push('<path d="M' + (ax + BOX_W) + ' ' + (ay + BOX_H / 2) + ' C' + lane + ' ' + (ay + BOX_H / 2) + ' ' +
          lane + ' ' + (by + BOX_H / 2) + ' ' + (bx + BOX_W) + ' ' + (by + BOX_H / 2) + '" fill="none" stroke="#bf8700"/>');
        continue;
      }
      out.push('<path d="M' + (ax + BOX_W / 2) + ' ' + (ay + BOX_H) + ' C' + (ax + BOX_W / 2) + ' ' +
        (ay + BOX_H + 30) + ' ' + (bx + BOX_W / 2) + ' ' + (by - 30) + ' ' + (bx + BOX_W / 2) + ' ' + by +
        '" fill="none" stroke="#8c959f"/>');
    }
  });
  M.layers.forEach((l, i) => {
    const [x, y] = pos[i];
    out.push('<g class=box data-layer="' + i + '" style="cursor:pointer"><rect x="' + x + '" y="' + y +
      '" width="' + BOX_W + '" height="' + BOX_H + '" rx="6" stroke="#57606a"/>' +
      '<text x="' + (x + 6) + '" y="' + (y + 14) + '" font-size="11" font-weight="bold">' + esc(l.name + ' · ' + l.op) + '</text>' +
      '<text x="' + (x + 6) + '" y="' + (y + 28) + '" font-size="10"></text>' +
      '<text x="' + (x + 6) + '" y="' + (y + 41) + '" font-size="10" fill="#57606a"></text></g>');
  });
  const svg = $('cp-diagram');
  svg.setAttribute('width', width); svg.setAttribute('height', height);
  svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
  svg.innerHTML = out.join('');
  boxes = [...svg.querySelectorAll('g.box')].map((g) => {
    const t = g.querySelectorAll('text');
    return [g.querySelector('rect'), t[1], t[2]];
  });
}
const FAMILY = M.layers.map((l) => l.inputs.length > 1 ? '#fff3b0' : /Conv/.test(l.op) ? '#d6e6f7'
  : /Pool/.test(l.op) ? '#e8def5' : /Dense/.test(l.op) ? '#fbe3c8' : l.op === 'InputLayer' ? '#d8f0d2' : '#ffffff');
function drawDiagram(r) {
  if (boxes === null) buildDiagram();
  M.layers.forEach((l, i) => {
    const [rect, shape, field] = boxes[i];
    const x_ = r.error ? null : r.layers[i];
    const bad = r.error && r.error[0] === i;
    const fill = bad ? '#ffebe9' : i === picked ? '#ddf4ff' : FAMILY[i];
    if (rect.getAttribute('fill') !== fill) rect.setAttribute('fill', fill);
    const second = x_ ? shapeText(x_.dims, r.batch) : bad ? 'invalid at this size' : '';
    const third = x_ && x_.rf ? 'RF ' + axesText(x_.rf.map((a) => a.size)) + ' /' + axesText(x_.rf.map((a) => a.stride)) : '';
    if (shape.textContent !== second) shape.textContent = second;
    if (field.textContent !== third) field.textContent = third;
  });
}

// output i's field on one axis: [first, last] input pixels, or null where it sees none
function span(a, i) {
  const stride = Number(a.stride), start = Number(a.start);
  if (a.phases === null) return [start + i * stride, start + i * stride + Number(a.size) - 1];
  const q = a.phases.length, k = Math.floor(i / q), p = a.phases[i % q];
  if (p === null) return null;
  const base = start + k * q * stride;
  return [base + Number(p[0]), base + Number(p[1])];
}
function drawField(r) {
  const svg = $('cp-field'), text = $('cp-field-text');
  if (r.error || picked === null || r.layers[picked].rf === null) {
    svg.innerHTML = ''; svg.setAttribute('width', 0); svg.setAttribute('height', 0);
    delete text.dataset.exact;
    text.textContent = r.error ? '' : picked === null ? 'No layer picked.'
      : M.layers[picked].rfdep ? 'This field follows the input size modulo the strides after resampling: it has no formula; convplan analyze --input-size gives it at a size.'
      : 'This layer has no receptive field (it sees whole axes, or has no spatial axes).';
    return;
  }
  const x = r.layers[picked];
  const input = M.inputs[0];
  const rank = x.rf.length;
  const n = r.layers[input].dims.slice(0, rank).map(Number);
  const outs = x.dims.slice(0, rank).map(Number);
  const rows = rank > 1 ? n[rank - 2] : 1, cols = n[rank - 1];
  const ay = rank > 1 ? x.rf[rank - 2] : null, ax = x.rf[rank - 1];
  // output (0, 0), its neighbour (1, 1) and the middle output: where each looks
  const picks = [[0, 0, '#cf222e'], [1, 1, '#bf8700'],
    [Math.floor(((rank > 1 ? outs[rank - 2] : 1) - 1) / 2), Math.floor((outs[rank - 1] - 1) / 2), '#0969da']];
  const fields = picks.map(([oy, ox, colour]) => [span(ax, ox), ay ? span(ay, oy) : [0, 0], colour])
    .filter(([sx, sy]) => sx !== null && sy !== null);
  // the drawing spans the input and every field drawn (a field reaches into the padding)
  const lo = [Math.min(0, ...fields.map((f) => f[1][0])), Math.min(0, ...fields.map((f) => f[0][0]))];
  const hi = [Math.max(rows - 1, ...fields.map((f) => f[1][1])), Math.max(cols - 1, ...fields.map((f) => f[0][1]))];
  const size = 320, pad = 8;
  const cellPx = Math.max(0.02, Math.min(12, (size - 2 * pad) / Math.max(hi[0] - lo[0] + 1, hi[1] - lo[1] + 1)));
  const X = (c) => pad + (c - lo[1]) * cellPx, Y = (r) => pad + (r - lo[0]) * cellPx;
  const W = (hi[1] - lo[1] + 1) * cellPx + 2 * pad, H = (hi[0] - lo[0] + 1) * cellPx + 2 * pad;
  const parts = ['<rect x="' + X(0) + '" y="' + Y(0) + '" width="' + cols * cellPx + '" height="' + rows * cellPx + '" fill="#f6f8fa" stroke="#57606a"/>'];
  if (cellPx >= 4) {
    for (let c = 1; c < cols; c++) parts.push('<line x1="' + X(c) + '" y1="' + Y(0) + '" x2="' + X(c) + '" y2="' + Y(rows) + '" stroke="#d0d7de" stroke-width="0.5"/>');
    for (let c = 1; c < rows; c++) parts.push('<line x1="' + X(0) + '" y1="' + Y(c) + '" x2="' + X(cols) + '" y2="' + Y(c) + '" stroke="#d0d7de" stroke-width="0.5"/>');
  }
  for (const [sx, sy, colour] of fields) {
    parts.push('<rect x="' + X(sx[0]) + '" y="' + Y(sy[0]) + '" width="' +
      Math.max(1, (sx[1] - sx[0] + 1) * cellPx) + '" height="' + Math.max(1, (sy[1] - sy[0] + 1) * cellPx) +
      '" fill="' + colour + '" fill-opacity="0.18" stroke="' + colour + '" stroke-width="1.5"/>');
  }
  svg.setAttribute('width', W); svg.setAttribute('height', H); svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  svg.innerHTML = parts.join('');
  const per = (k) => axesText(x.rf.map((a) => a[k]));
  const phases = x.rf.map((a) => a.phases === null ? 'uniform' : a.phases.map((p) => p === null ? 'none' : '[' + p.join(', ') + ']').join(' '));
  text.textContent = M.layers[picked].name + ': size ' + per('size') + ', stride ' + per('stride') +
    ', start ' + per('start') + '; phases ' + phases.join(' x ') + ' over the ' + n.join('x') +
    ' input (red: output 0, amber: output 1, blue: the middle output; outside the grid is padding).';
  text.dataset.exact = JSON.stringify(x.rf.map((a) => ({size: json(a.size), stride: json(a.stride), start: json(a.start)})));
}

function bars(id, title, values, fmtValue, colour) {  // one bar per layer with a value
  const svg = $(id);
  const items = values.filter(([, v]) => v > 0n);
  const W = Math.max(480, Math.min(1200, items.length * 8 + 80)), H = 180, top = 24, bottom = 150;
  const max = items.reduce((m, [, v]) => v > m ? v : m, 0n);
  const bw = items.length ? (W - 80) / items.length : 0;
  const key = items.map(([i]) => i).join(',');
  if (svg.dataset.key !== key) {  // the bars themselves are made again only when they change
    const parts = ['<text x="8" y="16" font-size="12" font-weight="bold"></text>',
      '<text x="8" y="' + (top + 10) + '" font-size="10"></text>',
      '<line x1="70" y1="' + bottom + '" x2="' + (W - 8) + '" y2="' + bottom + '" stroke="#57606a"/>'];
    items.forEach(([i], k) => parts.push('<rect class=bar data-layer="' + i + '" x="' + (72 + k * bw) +
      '" width="' + Math.max(1, bw - 1) + '" fill="' + colour + '"><title></title></rect>'));
    svg.setAttribute('width', W); svg.setAttribute('height', H); svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.innerHTML = parts.join('');
    svg.dataset.key = key;
  }
  const texts = svg.children;
  texts[0].textContent = title;
  texts[1].textContent = max > 0n ? fmtValue(max) : '';
  const rects = svg.querySelectorAll('rect.bar');
  items.forEach(([i, v], k) => {
    const h = max > 0n ? Number(v * 10000n / max) / 10000 * (bottom - top) : 0;
    const bar = rects[k];
    bar.dataset.v = String(v);
    bar.setAttribute('y', bottom - h); bar.setAttribute('height', h);
    bar.firstChild.textContent = M.layers[i].name + ': ' + fmtValue(v);
  });
}
function drawCharts(r) {
  if (r.error) {
    for (const id of ['cp-chart-cost', 'cp-chart-rf', 'cp-chart-memory']) { $(id).innerHTML = ''; delete $(id).dataset.key; }
    return;
  }
  bars('cp-chart-cost', 'MACs per layer' + (r.batch === null ? ' (per example)' : ' (batch ' + r.batch + ')'),
    r.layers.map((l, i) => [i, l.macs]), count, '#3c78b4');
  const rfs = r.layers.map((l, i) => [i, l.rf ? l.rf.reduce((m, a) => { const s = BigInt(String(a.size)); return s > m ? s : m; }, 0n) : 0n]);
  bars('cp-chart-rf', 'Receptive-field size per layer (largest axis, input pixels)', rfs, String, '#2a9d8f');
  const m = r.memory, svg = $('cp-chart-memory');
  const parts = [['weights', m.weights_bytes, '#e08a2c'], ['optimizer', m.optimizer_bytes, '#d1495b'],
    ['batch', m.batch_bytes, '#8c959f'], ['live', m.live_bytes, '#2a9d8f']];
  const total = m.total_bytes > 0n ? m.total_bytes : 1n;
  let x = 8;
  const out = ['<text x="8" y="16" font-size="12" font-weight="bold">Training memory ' + esc(bytes(m.total_bytes)) + ' (batch ' + m.batch + ', ' + esc(m.dtype) + ', ' + esc(m.optimizer) + ')</text>'];
  for (const [label, v, colour] of parts) {
    const w = Number(v * 10000n / total) / 10000 * 560;
    out.push('<rect class=bar data-key="' + label + '" data-v="' + v + '" x="' + x + '" y="26" width="' + w + '" height="26" fill="' + colour + '"><title>' + label + ' ' + esc(bytes(v)) + '</title></rect>');
    x += w;
  }
  let lx = 8;
  for (const [label, v, colour] of parts) {
    out.push('<rect x="' + lx + '" y="62" width="10" height="10" fill="' + colour + '"/><text x="' + (lx + 14) + '" y="71" font-size="10">' + label + ' ' + esc(bytes(v)) + '</text>');
    lx += 145;
  }
  svg.setAttribute('width', 600); svg.setAttribute('height', 80); svg.setAttribute('viewBox', '0 0 600 80');
  svg.innerHTML = out.join('');
}

function drawError(r) {
  const p = $('cp-error');
  p.hidden = !r.error;
  p.textContent = r.error ? r.error[1] : '';
}

let last = null;
function update() {
  const t0 = performance.now();
  const r = evaluate(readState());
  last = r;
  drawError(r); drawTable(r); drawCards(r); drawMemory(r); drawDiagram(r); drawField(r); drawCharts(r); drawTime(r);
  const ms = performance.now() - t0;
  window.cpLastUpdateMs = ms;
  $('cp-status').textContent = 'updated in ' + ms.toFixed(1) + ' ms';
}
function pick(i) {
  picked = i;
  const rows = $('cp-table').tBodies[0].rows;
  for (const tr of rows) tr.classList.toggle('picked', tr.dataset.layer === String(i));
  if (last) { drawDiagram(last); drawField(last); }
}
window.cpState = () => asJson(last);
window.cpPick = pick;

buildTable();
if (T === null) $('cp-device').disabled = true;  // live_time.time_model found no time model
M.symbols.forEach((s, i) => {
  const box = $('cp-size-' + i), slide = $('cp-slide-' + i);
  box.addEventListener('input', () => { slide.value = box.value; update(); });
  slide.addEventListener('input', () => { box.value = slide.value; update(); });
});
for (const id of ['cp-batch', 'cp-dtype', 'cp-optimizer', 'cp-device', 'cp-step']) $(id).addEventListener('input', update);
$('cp-diagram').addEventListener('click', (e) => {
  const g = e.target.closest('g.box');
  if (g) pick(Number(g.dataset.layer));
});
{
  const withField = M.layers.map((l, i) => [l, i]).filter(([l]) => l.rf !== null);
  picked = withField.length ? withField[withField.length - 1][1] : null;
}
update();
pick(picked);
"""
