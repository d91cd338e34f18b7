#!/usr/bin/python3
"""Turns the raw benchmark rows into the comparison table, a CSV and a bar chart. Ratios are
against PyTorch and against ONNX Runtime's in-library time (its raw time minus its binding's).

usage: report.py RAW_CSV PEAK_GFLOPS THREADS OUT_PREFIX
"""
import csv
import subprocess
import sys

# Multiply-adds of one LeNet-5 forward pass (models/lenet5.toml):
# conv1 28*28*6*25, conv2 10*10*16*150, fc1 400*120, fc2 120*84, fc3 84*10.
FORWARD_FLOP = 2 * (28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 400 * 120 + 120 * 84 + 84 * 10)
# A training step is the forward pass plus the gradients of inputs and of weights.
TRAIN_FLOP = 3 * FORWARD_FLOP
COLUMNS = [("inference", 1, "latency_us"), ("inference", 64, "img_per_s"),
           ("inference", 256, "img_per_s"), ("train_step", 64, "img_per_s")]


def main(raw, peak, threads, prefix):
    peak = float(peak)
    rows = list(csv.DictReader(open(raw)))
    table = {}
    for r in rows:
        table.setdefault(r["schedule"], {})[(r["kind"], int(r["batch"]))] = r
    peers = [("PyTorch", table.get("pytorch", {})), ("ORT", table.get("ort-in-library", {}))]
    out = []
    header = ["schedule", "b1 latency us", "x PyTorch", "x ORT", "b64 img/s", "x PyTorch", "x ORT", "b256 img/s",
              "x PyTorch", "x ORT", "b256 GFLOP/s", "% peak", "train b64 img/s", "x PyTorch", "x ORT",
              "train GFLOP/s"]
    for schedule, cases in table.items():
        line = [schedule]
        for kind, batch, field in COLUMNS:
            r = cases.get((kind, batch))
            value = float(r[field]) if r else None
            line.append(f"{value:.0f}" if value is not None else "-")
            # Speed-up over each peer: its latency over ours, or our img/s over its.
            for _, peer in peers:
                b = peer.get((kind, batch))
                if value is None or b is None or value <= 0 or float(b[field]) <= 0:
                    line.append("-")
                elif field == "latency_us":
                    line.append(f"{float(b[field]) / value:.2f}")
                else:
                    line.append(f"{value / float(b[field]):.2f}")
            if (kind, batch) == ("inference", 256):
                gflops = value * FORWARD_FLOP / 1e9 if value else None
                line += [f"{gflops:.1f}" if gflops else "-", f"{100 * gflops / peak:.1f}" if gflops else "-"]
        train = cases.get(("train_step", 64))
        line.append(f"{float(train['img_per_s']) * TRAIN_FLOP / 1e9:.1f}" if train else "-")
        out.append(line)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *out)]
    fmt = "  ".join("{:>%d}" % w for w in widths)
    print(f"\nLeNet-5, {threads} threads, FMA peak {peak:.1f} GFLOP/s (measured in this run)")
    print(fmt.format(*header))
    for line in out:
        print(fmt.format(*line))
    with open(prefix + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(out)
    # Bar chart of img/s per schedule and case, through gnuplot.
    data = prefix + ".dat"
    with open(data, "w") as f:
        f.write("schedule b64 b256 train64\n")
        for line in out:
            f.write(" ".join([line[0]] + [x if x != "-" else "0" for x in (line[4], line[7], line[12])]) + "\n")
    script = (f"set terminal pngcairo size 1000,500; set output '{prefix}.png'; set style data histograms;"
              "set style fill solid; set logscale y; set ylabel 'images per second';"
              f"set title 'LeNet-5 throughput, {threads} threads';"
              f"plot '{data}' using 2:xtic(1) title 'inference b64', '' using 3 title 'inference b256',"
              " '' using 4 title 'training b64'")
    if subprocess.run(["gnuplot", "-e", script]).returncode == 0:
        print(f"\nwrote {prefix}.csv and {prefix}.png")


if __name__ == "__main__":
    main(*sys.argv[1:])
