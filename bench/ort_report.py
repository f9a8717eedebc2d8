#!/usr/bin/python3
"""ort_report: the bookkeeping of bench/bench_ort.sh (Kiln against ONNX Runtime, one thread).

  ort_report.py record RESULTS.jsonl --run R --model NAME --kind KIND --label LABEL --macs M
        --kiln-o3 LINE --kiln-o2 LINE --ort JSON --out-o3 DIR --out-o2 DIR --out-ort DIR
        --torch DIR
      compares the outputs (Kiln -O3 and -O2 against ONNX Runtime's), appends one JSON record
      and prints a progress line. LINE is the `latency:` line of a `kiln build` executable run
      with --repeat; JSON is bench/ort_bench.js's report.
  ort_report.py fail RESULTS.jsonl --run R --model NAME --kind KIND --label LABEL --stage S
      records a model Kiln failed to import, build or run.
  ort_report.py o3o2 RESULTS.jsonl --model NAME --file AB.txt
      records an -O3 / -O2 alternation (lines "ROUND O3|O2 latency: ..."): per round the ratio
      of the two medians and of the two minimums; the -O3 <= -O2 goal uses their medians
  ort_report.py paired RESULTS.jsonl --model NAME --file PAIRED.txt
      records bench/peak_paired.sh's output for a layer: the layer's GFLOP/s per call as a
      percentage of an FMA probe of the same flops run right after that call (the peak of that
      moment, on a machine whose speed changes by phases).
  ort_report.py table RESULTS.jsonl --peak GFLOPS [--check-goals]
      prints the markdown tables, geomeans and goals; exits 1 if an output mismatched or a model
      failed (2 with --check-goals if a goal is missed).

Outputs match when |kiln - ort| <= ATOL + RTOL * |ort| elementwise (the test suite's tolerance
against PyTorch). ORT time = ORT median - the one-Add model's median (binding overhead, measured
in the same process); ratio = Kiln -O3 median / that net ORT time (< 1: Kiln faster).
"""

import argparse
import glob
import json
import math
import os
import re
import sys

import numpy as np

RTOL, ATOL = 1e-4, 1e-5
LSTM = "lstm_classifier"


def parse_latency(line):
    m = re.search(r"median ([0-9.]+) us, min ([0-9.]+) us over (\d+) runs(?:, p90 ([0-9.]+) us)?",
                  line)
    if not m:
        raise SystemExit("ort_report: not a latency line: %r" % line)
    med, mn = float(m.group(1)), float(m.group(2))
    return {"median": med, "min": mn, "p90": float(m.group(4)) if m.group(4) else None,
            "n": int(m.group(3))}


def errors(got_dir, ref_dir):
    """max abs error, max rel error (|d| / max(|ref|, ATOL)), ok, over every ref output."""
    worst_abs = worst_rel = 0.0
    ok = True
    refs = sorted(glob.glob(os.path.join(ref_dir, "*.npy")))
    if not refs:
        return None, None, False, "no reference outputs in " + ref_dir
    for ref_path in refs:
        got_path = os.path.join(got_dir, os.path.basename(ref_path))
        if not os.path.exists(got_path):
            return None, None, False, "missing output " + got_path
        ref = np.load(ref_path).astype(np.float64)
        got = np.load(got_path).astype(np.float64)
        if ref.shape != got.shape:
            return None, None, False, "shape %s != %s (%s)" % (got.shape, ref.shape, ref_path)
        d = np.abs(got - ref)
        if d.size:
            worst_abs = max(worst_abs, float(d.max()))
            worst_rel = max(worst_rel, float((d / np.maximum(np.abs(ref), ATOL)).max()))
            ok = ok and bool(np.all(d <= ATOL + RTOL * np.abs(ref)))
    return worst_abs, worst_rel, ok, ""


def cmd_record(a):
    k3, k2, ort = parse_latency(a.kiln_o3), parse_latency(a.kiln_o2), json.loads(a.ort)
    rec = {"run": a.run, "model": a.model, "kind": a.kind, "label": a.label, "macs": a.macs,
           "kiln_o3": k3, "kiln_o2": k2, "ort": ort["model"], "overhead": ort["overhead"],
           "ort_version": ort.get("ort_version"), "same_code": bool(a.same_code)}
    e3 = errors(a.out_o3, a.out_ort)
    e2 = errors(a.out_o2, a.out_ort)
    rec["err_abs"], rec["err_rel"], rec["ok_o3"], note3 = e3
    rec["err_abs_o2"], rec["err_rel_o2"], rec["ok_o2"], note2 = e2
    rec["note"] = "; ".join(x for x in (note3, note2) if x)
    if not (rec["ok_o3"] and rec["ok_o2"]):   # who is right? both against PyTorch
        rec["kiln_vs_torch"] = errors(a.out_o3, a.torch)[:3]
        rec["ort_vs_torch"] = errors(a.out_ort, a.torch)[:3]
    with open(a.results, "a", encoding="ascii") as f:
        f.write(json.dumps(rec) + "\n")
    net = ort["model"]["median"] - ort["overhead"]["median"]
    print("  run %d %-26s kiln -O3 %10.2f us  -O2 %10.2f us  ort %10.2f - %.2f us  ratio %s  %s"
          % (a.run, a.model, k3["median"], k2["median"], ort["model"]["median"],
             ort["overhead"]["median"], "%.2f" % (k3["median"] / net) if net > 0 else "n/a",
             "ok" if rec["ok_o3"] and rec["ok_o2"] else "MISMATCH " + rec["note"]), flush=True)


def cmd_fail(a):
    with open(a.results, "a", encoding="ascii") as f:
        f.write(json.dumps({"run": a.run, "model": a.model, "kind": a.kind, "label": a.label,
                            "failed": a.stage}) + "\n")
    print("  run %d %-26s FAILED: %s" % (a.run, a.model, a.stage), flush=True)


def cmd_paired(a):
    got = {}
    for line in open(a.file, encoding="ascii"):
        m = re.match(r"(model GFLOP/s|probe GFLOP/s|paired % of probe)\s+min\s+([0-9.]+)\s+p10\s+"
                     r"([0-9.]+)\s+median\s+([0-9.]+)\s+p90\s+([0-9.]+)", line)
        if m:
            got[m.group(1)] = {k: float(m.group(i)) for i, k in enumerate(("min", "p10", "median", "p90"), 2)}
    if len(got) != 3:
        raise SystemExit("ort_report: %s is not bench/peak_paired.sh output" % a.file)
    with open(a.results, "a", encoding="ascii") as f:
        f.write(json.dumps({"paired": a.model, "model_gflops": got["model GFLOP/s"],
                            "probe_gflops": got["probe GFLOP/s"], "pct": got["paired % of probe"]}) + "\n")
    print("  paired %-26s %% of probe p10 %.1f median %.1f p90 %.1f (probe median %.1f GFLOP/s)" % (
        a.model, got["paired % of probe"]["p10"], got["paired % of probe"]["median"],
        got["paired % of probe"]["p90"], got["probe GFLOP/s"]["median"]), flush=True)


O3O2_TOL = 0.02


def cmd_o3o2(a):
    rounds = {}
    for line in open(a.file, encoding="ascii"):
        m = re.match(r"(\d+) (O3|O2) latency: median ([0-9.]+) us, min ([0-9.]+) us", line)
        if m:
            rounds.setdefault(m.group(1), {})[m.group(2)] = (float(m.group(3)), float(m.group(4)))
    pairs = [r for r in rounds.values() if len(r) == 2]
    if not pairs:
        raise SystemExit("ort_report: %s holds no -O3/-O2 rounds" % a.file)
    rec = {"o3o2": a.model, "rounds": len(pairs),
           "median": med([r["O3"][0] / r["O2"][0] for r in pairs]),
           "min": med([r["O3"][1] / r["O2"][1] for r in pairs])}
    with open(a.results, "a", encoding="ascii") as f:
        f.write(json.dumps(rec) + "\n")
    print("  o3/o2  %-26s %d alternated rounds: median of per-round ratios %.3f (medians), %.3f "
          "(minimums)" % (a.model, rec["rounds"], rec["median"], rec["min"]), flush=True)


def med(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else 0.5 * (xs[len(xs) // 2 - 1] + xs[len(xs) // 2])


def geomean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def fmt(x, digits=1):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return "%.*f" % (digits, x)


def cmd_table(a):
    recs = [json.loads(line) for line in open(a.results, encoding="ascii") if line.strip()]
    paired = {r["paired"]: r for r in recs if "paired" in r}
    o3o2 = {r["o3o2"]: r for r in recs if "o3o2" in r}
    recs = [r for r in recs if "paired" not in r and "o3o2" not in r]
    runs = sorted({r["run"] for r in recs})
    order, by = [], {}
    for r in recs:
        if r["model"] not in by:
            order.append(r["model"])
            by[r["model"]] = []
        by[r["model"]].append(r)
    peak = a.peak
    failed = [m for m in order if any("failed" in r for r in by[m])]
    mismatched = [m for m in order if any("failed" not in r and not (r["ok_o3"] and r["ok_o2"])
                                          for r in by[m])]
    rows = {}
    for m in order:
        rs = [r for r in by[m] if "failed" not in r]
        if not rs:
            continue
        nets = [r["ort"]["median"] - r["overhead"]["median"] for r in rs]
        ratios = [r["kiln_o3"]["median"] / n for r, n in zip(rs, nets) if n > 0]
        k3 = med([r["kiln_o3"]["median"] for r in rs])
        k2 = med([r["kiln_o2"]["median"] for r in rs])
        net = med(nets)
        rows[m] = {
            "r": rs[0], "k3": k3, "k3min": min(r["kiln_o3"]["min"] for r in rs),
            "k3p90": med([r["kiln_o3"]["p90"] or float("nan") for r in rs]),
            "k2": k2, "ort": med([r["ort"]["median"] for r in rs]),
            "ortmin": min(r["ort"]["min"] for r in rs), "ortp90": med([r["ort"]["p90"] for r in rs]),
            "ovh": med([r["overhead"]["median"] for r in rs]), "net": net,
            "ratio": med(ratios) if ratios else float("nan"),
            "rmin": min(ratios) if ratios else float("nan"),
            "rmax": max(ratios) if ratios else float("nan"),
            "o3o2": med([r["kiln_o3"]["median"] / r["kiln_o2"]["median"] for r in rs]),
            "o3o2_best": min(r["kiln_o3"]["min"] for r in rs) / min(r["kiln_o2"]["min"] for r in rs),
            "same": all(r.get("same_code") for r in rs),
            "err_abs": max(r["err_abs"] or 0 for r in rs), "err_rel": max(r["err_rel"] or 0 for r in rs),
            "ok": all(r["ok_o3"] and r["ok_o2"] for r in rs), "n": rs[0]["kiln_o3"]["n"],
            "gflops": 2 * rs[0]["macs"] / (k3 * 1e3) if rs[0]["macs"] else float("nan"),
            "ort_gflops": 2 * rs[0]["macs"] / (net * 1e3) if rs[0]["macs"] and net > 0 else float("nan"),
        }
        # best case (fastest call): comparable with the probe's best-of-repeats peak on a busy host
        x = rows[m]
        best_net = min(r["ort"]["min"] - r["overhead"]["min"] for r in rs)
        x["ratio_best"] = x["k3min"] / best_net if best_net > 0 else float("nan")
        x["gflops_best"] = 2 * rs[0]["macs"] / (x["k3min"] * 1e3) if rs[0]["macs"] else float("nan")
        x["ort_gflops_best"] = (2 * rs[0]["macs"] / (best_net * 1e3) if rs[0]["macs"] and best_net > 0
                                else float("nan"))
    ovh = [r["overhead"]["median"] for r in recs if "overhead" in r]
    ovh_min = [r["overhead"]["min"] for r in recs if "overhead" in r]
    print("ONNX Runtime %s (onnxruntime-node, CPU EP, intra/inter-op threads 1, graph optimization "
          "all, sequential); %d run(s) of the whole comparison" % (
              next((r.get("ort_version") for r in recs if r.get("ort_version")), "?"), len(runs)))
    print("FMA peak (bench/fma_peak.c, one core, best of repeats, higher of the probes before and "
          "after): %.1f GFLOP/s" % peak)
    if ovh:
        print("ORT binding overhead (one-Add model, median per call, measured beside each model): "
              "median %.2f us, range %.2f-%.2f us over %d measurements (fastest single call %.2f us)"
              % (med(ovh), min(ovh), max(ovh), len(ovh), min(ovh_min)))
    print("Times in us: median of --repeat runs (Kiln: `kiln build` executable, --repeat; ORT: "
          "bench/ort_bench.js); with several runs, the median over runs. ORT net = ORT - overhead. "
          "ratio = Kiln -O3 / ORT net (spread: min-max over runs); ratio best = fastest Kiln -O3 call / (fastest ORT call - fastest Add call), less sensitive to a busy machine. err = max |Kiln -O3 - ORT| "
          "(abs; rel to |ORT|), tolerance %g + %g*|ORT|, Kiln -O2 checked too. GFLOP/s = 2 x MACs "
          "(kiln inspect --json) / median time; %% peak med/best: at the median time / at the "
          "fastest call (ORT: fastest call - fastest Add call), against the FMA peak.\n" % (ATOL, RTOL))

    def table(kind, title):
        ms = [m for m in order if by[m][0]["kind"] == kind]
        if not ms:
            return
        print("### " + title + "\n")
        print("| model | what | MACs | Kiln -O3 med (min/p90) | Kiln -O2 | O3/O2 | ORT med (min/p90) "
              "| ORT net | ratio | ratio spread | ratio best | Kiln GFLOP/s | Kiln % peak med/best | ORT GFLOP/s "
              "| ORT % peak med/best | err abs / rel | ok |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
        for m in ms:
            if m not in rows:
                print("| %s | %s | | | | | | | | | | | | | | | FAILED: %s |" % (
                    m, by[m][0]["label"], by[m][0]["failed"]))
                continue
            x = rows[m]
            print("| %s | %s | %d | %s (%s/%s) | %s | %s | %s (%s/%s) | %s | **%.2f** | %s | %.2f | %s "
                  "| %s | %s | %s | %.1e / %.1e | %s |" % (
                      m, x["r"]["label"] if x["r"]["label"] != "-" else "", x["r"]["macs"],
                      fmt(x["k3"]), fmt(x["k3min"]), fmt(x["k3p90"]), fmt(x["k2"]),
                      ("%.2f (same code)" if x["same"] else "%.2f") % x["o3o2"],
                      fmt(x["ort"]), fmt(x["ortmin"]), fmt(x["ortp90"]), fmt(x["net"]), x["ratio"],
                      "%.2f-%.2f" % (x["rmin"], x["rmax"]) if len(runs) > 1 else "-", x["ratio_best"],
                      fmt(x["gflops"], 2), "%s / %s" % (fmt(100 * x["gflops"] / peak),
                                                        fmt(100 * x["gflops_best"] / peak)),
                      fmt(x["ort_gflops"], 2), "%s / %s" % (fmt(100 * x["ort_gflops"] / peak),
                                                            fmt(100 * x["ort_gflops_best"] / peak)),
                      x["err_abs"], x["err_rel"],
                      "ok" if x["ok"] else "**MISMATCH**"))
        print()

    table("example", "Models (every example; the eight families of the issue are labelled)")
    table("layer", "Single layers")
    fam = [m for m in order if m in rows and rows[m]["r"]["kind"] == "example"
           and rows[m]["r"]["label"] != "-"]
    ex = [m for m in order if m in rows and rows[m]["r"]["kind"] == "example"]
    g_fam = geomean([rows[m]["ratio"] for m in fam])
    g_ex = geomean([rows[m]["ratio"] for m in ex])
    print("geomean ratio Kiln/ORT, the eight families: **%.3f** (%d models); all examples: **%.3f** "
          "(%d models)" % (g_fam, len(fam), g_ex, len(ex)))
    print("geomean of the best-call ratios: the eight families %.3f; all examples %.3f" % (
        geomean([rows[m]["ratio_best"] for m in fam]), geomean([rows[m]["ratio_best"] for m in ex])))
    if len(runs) > 1:
        per_run = []
        for run in runs:
            rr = [r for m in fam for r in by[m] if r["run"] == run and "failed" not in r]
            per_run.append(geomean([r["kiln_o3"]["median"] / (r["ort"]["median"] - r["overhead"]["median"])
                                    for r in rr]))
        print("family geomean per run: " + ", ".join("%.3f" % g for g in per_run))
    print()
    # goals of the kernel-performance issue
    goals = []
    above = [m for m in ex if rows[m]["ratio"] > 1.0]
    goals.append(("every model <= 1.0x ORT-1t", not above and not failed,
                  "above: " + ", ".join("%s %.2f" % (m, rows[m]["ratio"]) for m in above)
                  if above else "all at or below"))
    goals.append(("geomean <= 0.7x (eight families)", g_fam <= 0.7, "%.3f" % g_fam))
    convs = [m for m in order if m in rows and rows[m]["r"]["kind"] == "layer" and m.startswith("conv")]
    low = [m for m in convs if 100 * rows[m]["gflops"] / peak < 60]
    goals.append(("conv layers >= 60% of FMA peak (median time)", bool(convs) and not low,
                  ", ".join("%s %.1f%%" % (m, 100 * rows[m]["gflops"] / peak) for m in convs)))
    gemms = [m for m in order if m in rows and rows[m]["r"]["kind"] == "layer" and m.startswith("gemm_")]
    low = [m for m in gemms if 100 * rows[m]["gflops"] / peak < 75]
    goals.append(("large GEMM layers >= 75% of FMA peak (median time)", bool(gemms) and not low,
                  ", ".join("%s %.1f%%" % (m, 100 * rows[m]["gflops"] / peak) for m in gemms)))
    # the same goals against bench/peak_paired.sh: each call against a probe run right after it
    for what, ms, pct in (("conv layers >= 60%", convs, 60), ("large GEMM layers >= 75%", gemms, 75)):
        ps = [m for m in ms if m in paired]
        if ps:
            goals.append(("%s of the paired FMA probe (median of per-call ratios)" % what,
                          all(paired[m]["pct"]["median"] >= pct for m in ps) and len(ps) == len(ms),
                          ", ".join("%s %.1f%% (p10-p90 %.1f-%.1f)" % (
                              m, paired[m]["pct"]["median"], paired[m]["pct"]["p10"],
                              paired[m]["pct"]["p90"]) for m in ps)))
    if LSTM in rows:
        goals.append(("lstm <= 0.5x", rows[LSTM]["ratio"] <= 0.5, "%.3f" % rows[LSTM]["ratio"]))
    # identical executables cannot differ in speed. Where the code differs, the bench alternates
    # the two executables (O3O2_ROUNDS rounds, order swapped each round): -O3 counts as slower
    # if the median of its per-round ratios exceeds 1 + O3O2_TOL both at the median call and at
    # the fastest call (identical executables measured so gave 0.990-1.003).
    same = [m for m in order if m in rows and rows[m]["same"]]
    differ = [m for m in order if m in rows and not rows[m]["same"]]
    slower = [m for m in differ if m not in o3o2 or
              (o3o2[m]["median"] > 1 + O3O2_TOL and o3o2[m]["min"] > 1 + O3O2_TOL)]
    goals.append(("-O3 <= -O2 everywhere (identical code, or -O3/-O2 of alternated runs <= %.2f "
                  "at the median or at the fastest call)" % (1 + O3O2_TOL),
                  not slower,
                  "identical -O3/-O2 code: %d of %d; code differs (alternated: medians/fastest): "
                  "%s; O3 slower: %s" % (
                      len(same), len(same) + len(differ),
                      ", ".join("%s %.3f/%.3f" % (m, o3o2[m]["median"], o3o2[m]["min"])
                                if m in o3o2 else "%s not alternated" % m for m in differ) or "none",
                      ", ".join(slower) or "none")))
    print("| goal | met | measured |\n|---|---|---|")
    for g, ok, what in goals:
        print("| %s | %s | %s |" % (g, "yes" if ok else "**no**", what))
    print()
    over = [m for m in rows if rows[m]["gflops"] > peak or rows[m]["ort_gflops"] > peak]
    if over:
        print("WARNING: median GFLOP/s above the probe's peak (%s): the probe ran while the machine "
              "was busy; the %% of peak figures are overstated\n" % ", ".join(over))
    status = 0
    for m in failed:
        print("FAILED: %s: %s" % (m, "; ".join(r["failed"] for r in by[m] if "failed" in r)))
        status = 1
    for m in mismatched:
        for r in by[m]:
            if "failed" not in r and not (r["ok_o3"] and r["ok_o2"]):
                print("MISMATCH: %s run %d: -O3 vs ORT abs %s rel %s ok %s; -O2 vs ORT abs %s rel %s "
                      "ok %s; Kiln -O3 vs PyTorch %s; ORT vs PyTorch %s %s" % (
                          m, r["run"], r["err_abs"], r["err_rel"], r["ok_o3"], r["err_abs_o2"],
                          r["err_rel_o2"], r["ok_o2"], r.get("kiln_vs_torch"), r.get("ort_vs_torch"),
                          r["note"]))
        status = 1
    if status == 0 and a.check_goals and not all(ok for _, ok, _ in goals):
        status = 2
    return status


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("results")
    for opt in ("--model", "--kind", "--label", "--kiln-o3", "--kiln-o2", "--ort", "--out-o3",
                "--out-o2", "--out-ort", "--torch"):
        r.add_argument(opt, required=True)
    r.add_argument("--run", type=int, required=True)
    r.add_argument("--macs", type=int, required=True)
    r.add_argument("--same-code", type=int, default=0)
    f = sub.add_parser("fail")
    f.add_argument("results")
    for opt in ("--model", "--kind", "--label", "--stage"):
        f.add_argument(opt, required=True)
    f.add_argument("--run", type=int, required=True)
    q = sub.add_parser("o3o2")
    q.add_argument("results")
    q.add_argument("--model", required=True)
    q.add_argument("--file", required=True)
    q = sub.add_parser("paired")
    q.add_argument("results")
    q.add_argument("--model", required=True)
    q.add_argument("--file", required=True)
    t = sub.add_parser("table")
    t.add_argument("results")
    t.add_argument("--peak", type=float, required=True)
    t.add_argument("--check-goals", action="store_true")
    a = p.parse_args()
    if a.cmd == "record":
        cmd_record(a)
    elif a.cmd == "fail":
        cmd_fail(a)
    elif a.cmd == "paired":
        cmd_paired(a)
    elif a.cmd == "o3o2":
        cmd_o3o2(a)
    else:
        sys.exit(cmd_table(a))


if __name__ == "__main__":
    main()
