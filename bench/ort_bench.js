// ONNX Runtime (onnxruntime-node, CPU) on the ONNX export of a bench model, measured the way
// `MODEL bench` measures: median batch-1 latency, img/s per batch size. Prints CSV rows: "ort" is
// ORT's raw time through its Node binding, "ort-in-library" subtracts the time of a model of
// the same input and output shapes that computes nothing (the binding's and session's own
// per-call cost; export_onnx.py says why its output is the logits' size). Rows threads_T: T
// callers each awaiting batch-1 runs on the one session at once (ORT allows concurrent Run()),
// total img/s; the binding runs each call on a worker thread of its own.
//
// usage: node ort_bench.js DIR MODEL C,H,W THREADS SECONDS BATCHES
//   (DIR holds MODEL.onnx and MODEL-call.onnx, from export_onnx.py)
'use strict';
const ort = require('onnxruntime-node');
const path = require('path');

const [dir, model, shapeList, threads, seconds, batchList] = process.argv.slice(2);
const shape = shapeList.split(',').map(Number);
const batches = batchList.split(',').map(Number);

async function timed(session, feeds, budgetSeconds) {
  await session.run(feeds);
  const times = [];
  const start = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - start) / 1e9;
  while (elapsed() < budgetSeconds || times.length < 3) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((a, b) => a - b);
  return {median: times[Math.floor(times.length / 2)], mean: elapsed() / times.length};
}

// `callers` loops of batch-1 runs on one session, all in flight together for `budgetSeconds`.
async function concurrent(session, feeds, callers, budgetSeconds) {
  await session.run(feeds);
  const times = [];
  const start = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - start) / 1e9;
  const caller = async () => {
    while (elapsed() < budgetSeconds) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
  };
  await Promise.all(Array.from({length: callers}, caller));
  times.sort((a, b) => a - b);
  return {median: times[Math.floor(times.length / 2)], mean: elapsed() / times.length};
}

async function main() {
  const options = {graphOptimizationLevel: 'all', intraOpNumThreads: Number(threads), interOpNumThreads: 1,
                   executionMode: 'sequential'};
  const network = await ort.InferenceSession.create(path.join(dir, `${model}.onnx`), options);
  const callCost = await ort.InferenceSession.create(path.join(dir, `${model}-call.onnx`), options);
  const version = require('onnxruntime-node/package.json').version;
  console.log('model,target,schedule,kind,batch,latency_us,img_per_s');
  for (const batch of batches) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({length: batch * size}, () => Math.random());
    const feeds = {images: new ort.Tensor('float32', data, [batch, ...shape])};
    const net = await timed(network, feeds, Number(seconds));
    const binding = await timed(callCost, feeds, Number(seconds) / 2);
    // Said aside (stderr): a probe grown large (an ORT that copies where it now aliases) would
    // otherwise shrink the in-library figure unseen.
    console.error(`${model} batch ${batch}: ORT's per-call cost ${(binding.median * 1e6).toFixed(1)} us`);
    const rows = [['ort', net.median, net.mean],
                  ['ort-in-library', net.median - binding.median, net.mean - binding.mean]];
    for (const [label, median, mean] of rows)
      console.log(`${model},ort-${version},${label},inference,${batch},${(median * 1e6).toFixed(1)},${(batch / mean).toFixed(2)}`);
    if (batch !== 1) continue;
    for (const callers of [1, 2, 4]) {
      const t = await concurrent(network, feeds, callers, Number(seconds));
      console.log(`${model},ort-${version},ort,threads_${callers},1,${(t.median * 1e6).toFixed(1)},${(1 / t.mean).toFixed(2)}`);
    }
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
