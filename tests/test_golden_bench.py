"""``fewmul bench golden``'s rows of ``docs/results/golden.json`` (no training: a made-up
result with the shape :func:`fewmul.bench_golden.run_bench` returns)."""

import json

import pytest

from fewmul import bench_golden


def _result(dataset, binary_accuracy):
    def case(acc, mf, last_std, rate):
        return {"test_accuracy": acc, "test_accuracy_std": 0.01,
                "test_accuracy_multiplier_free": mf, "test_accuracy_multiplier_free_std": 0.02,
                "multiplier_free_last10_std": last_std, "samples_per_cpu_second": rate}
    summary = {"binary, fixed, w16": case(binary_accuracy, 0.90, 0.004, 3500.0),
               "ternary, fixed, w16": case(0.93, 0.92, 0.003, 3200.0),
               "float SGD": case(0.95, 0.95, 0.0, 800.0),
               "binary, float (paper rule)": case(0.92, 0.91, 0.005, 700.0)}
    config = {"dataset": dataset, "layers": [784, 256, 10], "seeds": [1, 2], "epochs": 30,
              "float_sgd": {"lr_shift": 4, "epochs": 40, "lr_decay": 10}}
    return {"config": config, "summary": summary, "command": f"bench {dataset}"}


def test_rows_give_one_row_per_weight_mode_in_points():
    rows = bench_golden.rows(_result("mnist", 0.925))
    assert [r["weights"] for r in rows] == ["binary", "ternary", "float"]
    binary, _, sgd = rows
    assert binary == {"dataset": "mnist", "weights": "binary", "layers": [784, 256, 10],
                      "seeds": [1, 2], "epochs": 30, "test_accuracy_mean": 92.5,
                      "test_accuracy_std": 1.0, "test_accuracy_multiplier_free_mean": 90.0,
                      "multiplier_free_last10_std": 0.4, "samples_per_cpu_s": 3500.0,
                      "command": "bench mnist"}
    assert sgd["epochs"] == 40                           # the float SGD reference's schedule
    assert sgd["test_accuracy_multiplier_free_mean"] is None
    assert sgd["multiplier_free_last10_std"] is None


def test_write_rows_replaces_only_the_same_data_set_and_mode(tmp_path):
    path = tmp_path / "golden.json"
    bench_golden.write_rows(path, bench_golden.rows(_result("mnist", 0.90)))
    bench_golden.write_rows(path, bench_golden.rows(_result("digits", 0.97))[:1])
    bench_golden.write_rows(path, bench_golden.rows(_result("mnist", 0.925)))
    rows = json.loads(path.read_text())
    assert [(r["dataset"], r["weights"]) for r in rows] == [
        ("digits", "binary"), ("mnist", "binary"), ("mnist", "ternary"), ("mnist", "float")]
    assert rows[1]["test_accuracy_mean"] == pytest.approx(92.5)
