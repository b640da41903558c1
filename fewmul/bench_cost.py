"""How the trainer's cost grows with the network: cycles, memory, link and CPU rates by size.

For each network of :data:`NETWORKS` (digits' 64 inputs and MNIST's 784), ``fewmul bench cost``
puts side by side:

- the weights and the parameter memory (weights and biases at ``weight_bits``);
- the engine's clock cycles per training sample on ``8 x 8`` tiles
  (``fewmul.hw.sequencer.step_cycles``, the schedule the RTL runs: the bench of
  ``fewmul bench trainer`` measures it plus the EPOCH command's few cycles) and the ECP5-85F's
  roofline (``fewmul.bench_trainer.chip_roofline``), both as samples/s at :data:`CLOCK_MHZ`;
- where the samples come from: digits fits on chip; MNIST's 4,000 training images (3.1 MB) do
  not, so they stream over the link, one TRAIN frame a sample: the link-bound rate at 3 Mbaud;
- the regions of the link's memory map (``fewmul.protocol.memory_map``: a layer of more than
  65,535 weights is split over several), or why the trainer cannot address the network;
- the golden model's bit-exact samples per CPU second on one core, measured in the same run
  (``fewmul.bench_golden.throughput``).

Rows go to ``docs/results/cost.json``, a table to ``docs/results.md`` and a plot to
``docs/img/cost_by_network.png``. The cycle and memory figures are arithmetic of the design;
the CPU rate is a measurement, never pass/fail.
"""

from pathlib import Path

__all__ = ["NETWORKS", "CLOCK_MHZ", "BAUD", "add_arguments", "run", "cost_row", "markdown",
           "plot", "stream_rate"]

#: (layers, data set) of the curve: the issue's four sizes and the widest 784-input network
#: the link addresses (784-64-10, trained on the RTL by ``fewmul train --backend rtl``).
NETWORKS = (((64, 64, 10), "digits"), ((64, 256, 10), "digits"), ((784, 64, 10), "mnist"),
            ((784, 128, 10), "mnist"), ((784, 256, 10), "mnist"))
#: The ULX3S-85F trainer's build clock (``fewmul bench trainer`` has the measured Fmax).
CLOCK_MHZ = 75.0
CHIP = "ecp5-85f"
TILE = 8
BAUD = 3_000_000
BYTE_BITS = 10                                      # 8N1
ON_CHIP = {"digits": 1437}                          # training samples held on chip


def stream_rate(cfg, baud=BAUD):
    """Samples/s when every sample crosses the link: a TRAIN request (label and pixels) and its
    one-byte answer, 6 framing bytes each (``docs/protocol.md``)."""
    wire = (6 + 1 + cfg.layers[0]) + (6 + 1)
    return baud / (BYTE_BITS * wire)


def cost_row(layers, dataset, golden_rate=None):
    """One row for ``layers`` trained on ``dataset`` (``golden_rate``: measured elsewhere)."""
    from .bench_trainer import chip_roofline
    from .hw.roofline import DoesNotFit
    from .hw.sequencer import step_cycles
    from .protocol import memory_map
    from .training import default_config
    cfg = default_config(layers=layers, array_rows=TILE, array_cols=TILE)
    weights = sum(n * m for n, m in zip(layers[:-1], layers[1:], strict=True))
    cycles = step_cycles(cfg)
    on_chip = dataset in ON_CHIP
    try:
        roof = chip_roofline(cfg, CHIP, dataset_samples=ON_CHIP.get(dataset, 0))
        roof_cycles, binds, roof_error = roof.cycles, roof.binds, None
    except DoesNotFit as exc:
        roof_cycles, binds, roof_error = None, None, str(exc)
    try:
        regions, trainer_error = len(memory_map(cfg)), None
    except ValueError as exc:
        regions, trainer_error = None, str(exc)
    compute = CLOCK_MHZ * 1e6 / cycles
    link = None if on_chip else stream_rate(cfg)
    return {
        "network": "-".join(map(str, layers)), "dataset": dataset, "weights": weights,
        "parameter_bits": (weights + sum(layers[1:])) * cfg.weight_bits,
        "weight_bits": cfg.weight_bits, "tile": TILE,
        "engine_cycles_per_sample": cycles,
        "engine_samples_per_s": round(compute),
        "roofline_chip": CHIP, "roofline_cycles": roof_cycles, "roofline_binds": binds,
        "roofline_samples_per_s": round(CLOCK_MHZ * 1e6 / roof_cycles) if roof_cycles else None,
        "roofline_error": roof_error,
        "data_on_chip": on_chip,
        "link_samples_per_s_3mbaud": round(link) if link else None,
        "samples_per_s": round(min(compute, link) if link else compute),
        "trainer_holds_it": trainer_error is None, "trainer_error": trainer_error,
        "memory_regions": regions,
        "golden_cpu_samples_per_s": round(golden_rate) if golden_rate else None,
        "clock_mhz": CLOCK_MHZ,
    }


def markdown(rows):
    def f(value, spec=",.0f"):
        return "-" if value is None else format(value, spec)
    lines = [f"| network | data set | weights | parameter memory | engine cycles / sample "
             f"({TILE} x {TILE} tiles) | {CHIP} roofline (cycles) | engine / roofline "
             f"samples/s at {CLOCK_MHZ:.0f} MHz | link-bound at 3 Mbaud | samples/s | "
             f"the trainer holds it | golden, 1 CPU core |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        roof = (f"{f(r['roofline_cycles'])} ({r['roofline_binds']})" if r["roofline_cycles"]
                else "does not fit")
        link = "data on chip" if r["data_on_chip"] else f(r["link_samples_per_s_3mbaud"])
        holds = (f"yes, {r['memory_regions']} regions" if r["trainer_holds_it"]
                 else f"no: {r['trainer_error']}")
        lines.append(
            f"| {r['network']} | {r['dataset']} | {f(r['weights'])} | "
            f"{r['parameter_bits'] / 1e6:.2f} Mbit | {f(r['engine_cycles_per_sample'])} | "
            f"{roof} | {f(r['engine_samples_per_s'])} / {f(r['roofline_samples_per_s'])} | "
            f"{link} | {f(r['samples_per_s'])} | {holds} | "
            f"{f(r['golden_cpu_samples_per_s'])} |")
    lines += ["", f"Engine cycles: `step_cycles` of the streaming engine on {TILE} x {TILE} tiles "
              "(2 passes over every tile plus a drain per layer pass; the RTL's EPOCH answers "
              "measure it plus 2 cycles a sample, `fewmul bench trainer`). Roofline: "
              "`fewmul.hw.roofline` on the whole chip, the random numbers never binding, with "
              "the data set in block RAM where it fits (digits) and none on chip otherwise. "
              "samples/s: the engine's rate, or the link's where every sample streams over it "
              "(MNIST: 4,000 training images of 784 bytes are 3.1 MB, more than the ECP5-85F's "
              "block RAM); a TRAIN frame and its answer are 7 + N0 + 7 bytes at 10 bits each. "
              "The trainer addresses a layer of more than 65,535 weights (the LOAD / READ "
              "address is 16 bits) as several regions of whole row tiles "
              "(`fewmul.protocol.memory_map`, `docs/protocol.md`)."]
    return "\n".join(lines)


def plot(rows, path):
    """Samples/s against the number of weights: engine and roofline at the clock, link-bound
    streaming, golden on one core (log-log). Returns the path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    xs = [r["weights"] for r in rows]
    for label, key, style in [
            (f"{CHIP} roofline at {CLOCK_MHZ:.0f} MHz", "roofline_samples_per_s", ":o"),
            (f"engine, {TILE} x {TILE} tiles, at {CLOCK_MHZ:.0f} MHz", "engine_samples_per_s",
             "-o"),
            ("streamed over the link at 3 Mbaud", "link_samples_per_s_3mbaud", "--s"),
            ("golden model, 1 CPU core", "golden_cpu_samples_per_s", "-^")]:
        pts = [(x, r[key]) for x, r in zip(xs, rows, strict=True) if r[key]]
        if pts:
            ax.plot(*zip(*pts, strict=True), style, label=label)
    for x, r in zip(xs, rows, strict=True):
        ax.annotate(r["network"], (x, r["engine_samples_per_s"]), fontsize=7,
                    textcoords="offset points", xytext=(3, 4))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("weights")
    ax.set_ylabel("training samples / s")
    ax.grid(True, which="both", lw=0.3)
    ax.legend(fontsize=8)
    from .results import save_figure
    return save_figure(fig, path)


def add_arguments(p):
    p.add_argument("--steps", type=int, default=2000,
                   help="golden training steps timed per network (default: 2000)")
    p.add_argument("--json", default="docs/results/cost.json", help="rows written here")
    p.add_argument("--plot", default="docs/img/cost_by_network.png", help="the plot's path")
    p.add_argument("--no-results", action="store_true", help="do not rewrite docs/results.md")


def run(args):
    from .bench_golden import throughput
    from .results import update_section, write_json
    rows = []
    for layers, dataset in NETWORKS:
        cpu, _ = throughput(steps=args.steps, layers=layers, dataset=dataset)
        rows.append(cost_row(layers, dataset, cpu))
    write_json(args.json, rows)
    table = markdown(rows)
    print(table)
    image = plot(rows, args.plot)
    if not args.no_results:
        command = "fewmul bench cost" + (f" --steps {args.steps}" if args.steps != 2000 else "")
        figure = (f"\n\n![samples/s by network size]({Path(image).relative_to('docs')})"
                  if Path(image).parts[0] == "docs" else "")
        path = update_section("bench-cost", "How the trainer's cost grows with the network",
                              command, table + figure)
        print(f"wrote {path} and {image}")
    return 0
