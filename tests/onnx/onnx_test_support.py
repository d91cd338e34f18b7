"""What the ONNX test scripts share: their command line, a fresh work directory, running a
command with its output shown, and the relative difference the tests bound."""
import argparse
import pathlib
import shutil
import subprocess

import numpy as np


def arguments(description, extra=lambda parser: None):
    """--cnngen and --work (emptied), plus what `extra` adds to the parser."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--cnngen", required=True)
    parser.add_argument("--work", required=True)
    extra(parser)
    args = parser.parse_args()
    args.work = pathlib.Path(args.work)
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    return args


def run(*command):
    command = [str(c) for c in command]
    print("+", " ".join(command), flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    print(result.stdout + result.stderr, flush=True)
    return result


def relative_difference(got, expected):
    """Largest |got - expected| over max(1, largest |expected|)."""
    return np.abs(got - expected).max() / max(1.0, np.abs(expected).max())
