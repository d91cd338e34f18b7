#!/usr/bin/python3
"""Turns the raw benchmark rows into one comparison table per model, a CSV and a bar chart each.
Ratios are against PyTorch and against ONNX Runtime's in-library time (its raw time minus its
binding's).

usage: report.py RAW_CSV PEAK_GFLOPS THREADS OUT_DIR [SCALE_CSV]
       (writes OUT_DIR/MODEL.csv and MODEL.png, and with SCALE_CSV OUT_DIR/scale.table.csv)
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
# conv1 55*55*96*363, conv2 27*27*256*1200 (2 groups), conv3 13*13*384*2304, conv4 13*13*384*1728
# and conv5 13*13*256*1728 (2 groups), fc 9216*4096 + 4096*4096 + 4096*1000
FORWARD_MACS["alexnet"] = (55 * 55 * 96 * 363 + 27 * 27 * 256 * 1200 + 13 * 13 * 384 * 2304 + 13 * 13 * 384 * 1728
                           + 13 * 13 * 256 * 1728 + 9216 * 4096 + 4096 * 4096 + 4096 * 1000)
# VGG-16 (configuration D): 3x3 convolutions, (size, in, out) per layer, then fc 25088-4096-4096-1000.
VGG16_CONVS = [(224, 3, 64), (224, 64, 64), (112, 64, 128), (112, 128, 128), (56, 128, 256), (56, 256, 256),
               (56, 256, 256), (28, 256, 512), (28, 512, 512), (28, 512, 512), (14, 512, 512), (14, 512, 512),
               (14, 512, 512)]
FORWARD_MACS["vgg16"] = (sum(size * size * 9 * c_in * c_out for size, c_in, c_out in VGG16_CONVS)
                         + 25088 * 4096 + 4096 * 4096 + 4096 * 1000)
# torchvision's graph networks at 3x224x224: the multiply-adds torchvision's model documentation
# gives (its "GFLOPS" column counts multiply-adds): ResNet-18 1.814G, ResNet-50 4.089G, MobileNetV2 0.3005G.
FORWARD_MACS.update({"resnet18": 1.814e9, "resnet50": 4.089e9, "mobilenet_v2": 0.3005e9})
# The cpu schedule's row is a peer too: `cnngen tune` is measured against it (and against the
# hand-written `fused` row) in the same run.
PEERS = [("PyTorch", "pytorch"), ("ORT", "ort-in-library"), ("cpu", "cpu")]
TARGET_ACCURACY = 89  # Fashion-MNIST test accuracy of the time-to-accuracy row


def number(value):
    """Whole numbers from 100 up, three significant digits below (VGG-16 trains at about 1 img/s)."""
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


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
                line.append(f"{value / 1e6:.1f}" if kind == "to_accuracy" else number(value))
            # Concurrent rows exist for ORT's raw time only (binding included): compared with that.
            peers = [("ort" if peer == "ort-in-library" and kind.startswith("threads_") else peer) for _, peer in PEERS]
            line += [ratio(value, table.get(peer, {}).get((kind, batch)), field) for peer in peers]
        largest = cases.get(("inference", batches[-1]))
        line.append(f"{100 * float(largest['img_per_s']) * flop / 1e9 / peak:.1f}" if largest else "-")
        out.append(line)
    return header, out


def scale_table(rows, scale_rows, peak):
    """One line per model, smallest first: build time and memory, batch-1 latency, the largest
    batch's and the training step's img/s against the peers, peak memory."""
    usage = {(r["model"], r["what"]): r for r in scale_rows}
    header = ["model", "GFLOP/img", "build s (MiB)", "b1-only build s (MiB)", "b1 us", "x ORT", "x PyTorch",
              "batch", "img/s", "x ORT", "% peak", "train img/s", "x PyTorch", "b1 peak MiB", "bench peak MiB"]
    out = []
    for model in sorted({r["model"] for r in rows if r["model"] in FORWARD_MACS}, key=FORWARD_MACS.get):
        ours = {(r["kind"], int(r["batch"])): r for r in rows
                if r["model"] == model and r["schedule"] in ("default", "tuned")}
        peers = {(r["schedule"], r["kind"], int(r["batch"])): r for r in rows if r["model"] == model}
        gflop = 2 * FORWARD_MACS[model] / 1e9
        build = usage.get((model, "build_default")) or usage.get((model, "build_tuned"))
        small = usage.get((model, "build_inference_b1"))
        line = [model, number(gflop), f"{build['seconds']} ({build['peak_mib']})" if build else "-",
                f"{small['seconds']} ({small['peak_mib']})" if small else "-"]
        b1 = ours.get(("inference", 1))
        value = float(b1["latency_us"]) if b1 else None
        line += [number(value) if value else "-"]
        line += [ratio(value, peers.get((p, "inference", 1)), "latency_us") for p in ("ort-in-library", "pytorch")]
        largest = max((b for kind, b in ours if kind == "inference"), default=None)
        big = ours.get(("inference", largest))
        value = float(big["img_per_s"]) if big else None
        line += [str(largest or "-"), number(value) if value else "-",
                 ratio(value, peers.get(("ort-in-library", "inference", largest)), "img_per_s"),
                 f"{100 * value * gflop / peak:.1f}" if value else "-"]
        train = next((r for (kind, _), r in ours.items() if kind == "train_step"), None)
        value = float(train["img_per_s"]) if train else None
        line += [number(value) if value else "-",
                 ratio(value, peers.get(("pytorch", "train_step", int(train["batch"]))) if train else None, "img_per_s")]
        line += [usage[(model, what)]["peak_mib"] if (model, what) in usage else "-" for what in ("inference_b1", "bench")]
        out.append(line)
    return header, out


def print_table(title, header, out):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *out)]
    fmt = "  ".join("{:>%d}" % w for w in widths)
    print(title)
    print(fmt.format(*header))
    for line in out:
        print(fmt.format(*line))


def main(raw, peak, threads, out_dir, scale=None):
    peak = float(peak)
    rows = list(csv.DictReader(open(raw)))
    if scale:
        header, out = scale_table(rows, list(csv.DictReader(open(scale))), peak)
        print_table(f"\nscale, {threads} threads, FMA peak {peak:.1f} GFLOP/s: cnngen's default builds against "
                    "ORT in-library and PyTorch", header, out)
        with open(os.path.join(out_dir, "scale.table.csv"), "w", newline="") as f:
            csv.writer(f).writerows([header] + out)
    for model in dict.fromkeys(r["model"] for r in rows):
        header, out = model_table(model, [r for r in rows if r["model"] == model], peak)
        print_table(f"\n{model}, {threads} threads, FMA peak {peak:.1f} GFLOP/s (measured in this run)", header, out)
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
