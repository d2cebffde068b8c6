#!/usr/bin/python3
"""Runs a chosen subset of the PyTorch peer (../shared/bench/peer_torch.py), on the CPU or a GPU.

The peer script always runs every workload (matmul, both GPT-2 steps, all SAE steps: minutes on
this machine). `npm run bench --only ...` needs only the workloads it measures, so this wrapper
imports the peer's own bench functions (one definition of each peer algorithm) and calls just
the selected ones. With --device cuda every tensor the peer makes lands on the GPU (PyTorch >= 2:
torch.set_default_device), each timed call is synchronised, and the peer names become
torch-cuda / torch-cuda-sparse.

    /usr/bin/python3 peer_torch_select.py --script ../shared/bench/peer_torch.py \
        [--threads 2] [--quick] [--device cpu|cuda] [--select JSON]

--select is a JSON list of {"workload": name, <shape fields>...} as the project's bench names
them (sae_step.ts, gpt2_step.ts, matmul.ts); omitted = everything the peer's main() runs. Prints
the peer's JSON lines (one per measurement); unknown selections are reported on stderr.
If the peer script gains workloads, add them to ENTRIES (same call as its main()).
"""
import argparse, importlib.util, io, json, sys, time


def load(path):
    spec = importlib.util.spec_from_file_location("peer_torch", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def entries(m, reps):
    """(workload, shape fields, call) in the order of the peer's main(), same arguments."""
    few = max(2, reps // 3)
    out = []
    for (M, K, N) in [(256, 256, 256), (1024, 1024, 1024), (1024, 256, 4096), (1024, 768, 16384)]:
        out.append((f"matmul.{M}.{K}.{N}", {}, lambda M=M, K=K, N=N: m.bench_matmul([(M, K, N)], reps)))
    for (L, C, H, V, T, B, r) in [(4, 256, 4, 8192, 128, 8, reps), (12, 768, 12, 50257, 128, 1, few)]:
        shape = {"layers": L, "n_embd": C, "heads": H, "vocab": V, "ctx": T, "batch": B}
        out.append(("gpt2.train_step", shape, lambda L=L, C=C, H=H, V=V, T=T, B=B, r=r: m.bench_gpt2(L=L, C=C, H=H, V=V, T=T, B=B, reps=r)))
    for kind in ("topk", "gsae"):
        for (d, mm, r) in [(256, 4096, reps), (768, 16384, few)]:
            shape = {"d": d, "m": mm, "k": 32, "batch": 1024}

            def both(kind=kind, d=d, mm=mm, r=r):
                m.bench_sae(kind, d=d, m=mm, k=32, batch=1024, reps=r)
                m.bench_sae_sparse(kind, d=d, m=mm, k=32, batch=1024, reps=r)

            out.append((f"sae.{kind}.step", shape, both))
    return out


def matches(sel, name, shape):
    return sel.get("workload") == name and all(sel.get(k) == v for k, v in shape.items())


class Rename(io.TextIOBase):
    """stdout filter: the peer's JSON lines with peer names for the device (torch-cpu → torch-cuda)."""

    def __init__(self, out, names):
        self.out, self.names, self.buf = out, names, ""

    def write(self, s):
        self.buf += s
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            try:
                o = json.loads(line)
                o["peer"] = self.names.get(o.get("peer"), o.get("peer"))
                o["device"] = DEVICE
                line = json.dumps(o)
            except (ValueError, AttributeError):
                pass
            self.out.write(line + "\n")
            self.out.flush()
        return len(s)

    def flush(self):
        self.out.flush()


DEVICE = "cpu"


def main():
    global DEVICE
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--select", default=None)
    a = ap.parse_args()
    m = load(a.script)
    torch = m.torch
    DEVICE = a.device
    if a.device == "cuda":
        if not torch.cuda.is_available():
            sys.exit("peer_torch_select: --device cuda but torch.cuda.is_available() is False")
        if not hasattr(torch, "set_default_device"):
            sys.exit(f"peer_torch_select: --device cuda needs PyTorch >= 2.0 (set_default_device); this is {torch.__version__}")
        torch.set_default_device("cuda")
        plain = m.timeit

        def timeit(fn, reps, warmup=2):  # GPU work is asynchronous: time to completion
            def synced():
                fn()
                torch.cuda.synchronize()
            return plain(synced, reps, warmup)

        m.timeit = timeit
        sys.stdout = Rename(sys.stdout, {"torch-cpu": "torch-cuda", "torch-sparse": "torch-cuda-sparse"})
    elif a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    reps = 3 if a.quick else 10
    table = entries(m, reps)
    if a.select is None:
        chosen = [call for (_, _, call) in table]
    else:
        sel = json.loads(a.select)
        chosen = [call for (name, shape, call) in table if any(matches(s, name, shape) for s in sel)]
        for s in sel:
            if not any(matches(s, name, shape) for (name, shape, _) in table):
                print(f"peer_torch_select: the peer has no workload {json.dumps(s)}", file=sys.stderr)
    t0 = time.perf_counter()
    for call in chosen:
        call()
    print(f"peer_torch_select: {len(chosen)} workload(s) on {a.device} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
