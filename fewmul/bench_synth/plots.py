"""The sweep's plots: logic cells and peak MAC/s against PEs."""

from ..results import save_figure
from .log import format_label, point_tag

__all__ = ["plots"]


def plots(log, img_dir, prefix="synth"):
    """Write ``<prefix>_pes_vs_luts.png`` and ``<prefix>_macs_vs_pes.png`` into ``img_dir``;
    their paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img_dir.mkdir(parents=True, exist_ok=True)
    points = [p for p in log.points.values() if p["seed"] == 1 and p.get("fits")]
    series = {}
    for p in sorted(points, key=lambda p: p["pes"]):
        series.setdefault((p["device"], p["design"], point_tag(p)), []).append(p)
    paths = []
    for filename, ylabel, value, log_y in [
        (f"{prefix}_pes_vs_luts.png", "logic cells (LUT4 / LC) used",
         lambda p: p["logic_cells"]["used"], True),
        (f"{prefix}_macs_vs_pes.png", "peak MAC/s (PEs x Fmax)", lambda p: p["peak_macs_per_s"],
         True),
    ]:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for (device, design, tag), pts in sorted(series.items()):
            style = ("-" if design == "fewmul" else "--") + ("o" if not tag else "^")
            ax.plot([p["pes"] for p in pts], [value(p) for p in pts], style,
                    label=f"{device} {design} {format_label(tag)}")
        if filename.endswith("_pes_vs_luts.png"):
            for device in sorted({d for d, _, _ in series}):
                available = next(p["logic_cells"]["available"] for p in points
                                 if p["device"] == device)
                ax.axhline(available, color="grey", lw=0.8, ls=":")
                ax.text(1, available, f" {device} capacity", va="bottom", fontsize=7)
        ax.set_xscale("log", base=2)
        if log_y:
            ax.set_yscale("log")
        ax.set_xlabel("training PEs (R x C)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", lw=0.3)
        ax.legend(fontsize=8)
        paths.append(save_figure(fig, img_dir / filename))
    return paths
