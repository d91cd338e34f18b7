#!/usr/bin/python3
"""Turns the raw benchmark rows into one comparison table per model, a CSV and a bar chart each.
Ratios are against PyTorch and against ONNX Runtime's in-library time (its raw time minus its
binding's).

usage: report.py RAW_CSV PEAK_GFLOPS THREADS OUT_DIR   (writes OUT_DIR/MODEL.csv and MODEL.png)
"""
import csv
import os
import subprocess
import sys

# Multiply-adds of one forward pass, layer by layer (models/*.toml); a training step is taken as
# three forward passes (the forward, the input gradients, the weight gradients).
FORWARD_MACS = {
    # conv1 28*28*6*25, conv2 10*10*16*150, fc1 400*120, fc2 120*84, fc3 84*10
    "lenet5": 28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 400 * 120 + 120 * 84 + 84 * 10,
    # conv1 16*16*32*75, conv2 7*7*64*288, conv3 3*3*96*288 (2 groups), fc1 864*256, fc2 256*10
    "alexnet_small": 16 * 16 * 32 * 75 + 7 * 7 * 64 * 288 + 3 * 3 * 96 * 288 + 864 * 256 + 256 * 10,
}
FORWARD_MACS["lenet5_classic"] = FORWARD_MACS["lenet5"]
PEERS = [("PyTorch", "pytorch"), ("ORT", "ort-in-library")]
TARGET_ACCURACY = 89  # Fashion-MNIST test accuracy of the time-to-accuracy row


def ratio(value, peer, field):
    if value is None or peer is None or value <= 0 or float(peer[field]) <= 0:
        return "-"
    peer_value = float(peer[field])
    # Speed-up: the peer's latency over ours, or our img/s over the peer's.
    return f"{peer_value / value:.2f}" if field == "latency_us" else f"{value / peer_value:.2f}"


def model_table(model, rows, peak):
    table = {}
    for r in rows:
        table.setdefault(r["schedule"], {})[(r["kind"], int(r["batch"]))] = r
    batches = sorted({int(r["batch"]) for r in rows if r["kind"] == "inference"})
    trains = sorted({int(r["batch"]) for r in rows if r["kind"] == "train_step"})
    columns = [("inference", b, "latency_us" if b == 1 else "img_per_s") for b in batches]
    columns += [("train_step", b, "img_per_s") for b in trains]
    # Batch-1 calls from T threads sharing one model (one session for ORT): total img/s.
    callers = sorted({int(r["kind"].split("_")[1]) for r in rows if r["kind"].startswith("threads_")})
    columns += [(f"threads_{t}", 1, "img_per_s") for t in callers]
    # Wall time of a whole training run to the target test accuracy (bench/run.sh), in seconds.
    columns += [("to_accuracy", b, "latency_us")
                for b in sorted({int(r["batch"]) for r in rows if r["kind"] == "to_accuracy"})]
    header = ["schedule"]
    for kind, batch, field in columns:
        if kind == "to_accuracy":
            name = f"to {TARGET_ACCURACY}% s"
        elif kind.startswith("threads_"):
            name = f"b1 x{kind.split('_')[1]} threads img/s"
        else:
            name = f"b{batch} latency us" if field == "latency_us" else (
                f"b{batch} img/s" if kind == "inference" else f"train b{batch} img/s")
        header += [name] + [f"x {label}" for label, _ in PEERS]
    header.append(f"b{batches[-1]} % peak")
    flop = 2 * FORWARD_MACS[model]
    out = []
    for schedule, cases in table.items():
        line = [schedule]
        for kind, batch, field in columns:
            r = cases.get((kind, batch))
            value = float(r[field]) if r else None
            if value is None:
                line.append("-")
            else:
                line.append(f"{value / 1e6:.1f}" if kind == "to_accuracy" else f"{value:.0f}")
            # Concurrent rows exist for ORT's raw time only (binding included): compared with that.
            peers = [("ort" if peer == "ort-in-library" and kind.startswith("threads_") else peer) for _, peer in PEERS]
            line += [ratio(value, table.get(peer, {}).get((kind, batch)), field) for peer in peers]
        largest = cases.get(("inference", batches[-1]))
        line.append(f"{100 * float(largest['img_per_s']) * flop / 1e9 / peak:.1f}" if largest else "-")
        out.append(line)
    return header, out


def main(raw, peak, threads, out_dir):
    peak = float(peak)
    rows = list(csv.DictReader(open(raw)))
    for model in dict.fromkeys(r["model"] for r in rows):
        header, out = model_table(model, [r for r in rows if r["model"] == model], peak)
        widths = [max(len(str(x)) for x in col) for col in zip(header, *out)]
        fmt = "  ".join("{:>%d}" % w for w in widths)
        print(f"\n{model}, {threads} threads, FMA peak {peak:.1f} GFLOP/s (measured in this run)")
        print(fmt.format(*header))
        for line in out:
            print(fmt.format(*line))
        prefix = os.path.join(out_dir, model)
        with open(prefix + ".csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(out)
        # Bar chart of the img/s columns per schedule, through gnuplot.
        rates = [k for k, name in enumerate(header) if name.endswith("img/s")]
        data = prefix + ".dat"
        with open(data, "w") as f:
            f.write(" ".join(["schedule"] + [header[k].replace(" ", "_") for k in rates]) + "\n")
            for line in out:
                f.write(" ".join([line[0]] + [line[k] if line[k] != "-" else "0" for k in rates]) + "\n")
        plots = ", ".join(f"'{data}' using {n + 2}{':xtic(1)' if n == 0 else ''} title '{header[k]}'"
                          for n, k in enumerate(rates))
        script = (f"set terminal pngcairo size 1000,500; set output '{prefix}.png'; set style data histograms;"
                  "set style fill solid; set logscale y; set ylabel 'images per second';"
                  f"set title '{model} throughput, {threads} threads'; plot {plots}")
        if subprocess.run(["gnuplot", "-e", script]).returncode == 0:
            print(f"wrote {prefix}.csv and {prefix}.png")


if __name__ == "__main__":
    main(*sys.argv[1:])
