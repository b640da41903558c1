"""fewmul bench cost: its arithmetic from docs/protocol.md and the network's shape."""

import pytest

from fewmul.bench_cost import cost_row, markdown, plot, stream_rate
from fewmul.training import default_config


def test_stream_rate_is_one_train_frame_and_its_answer_a_sample():
    # docs/protocol.md: SYNC, opcode, LE16 length, payload, CRC16 around each payload; TRAIN
    # carries the label and 784 pixels, its answer the predicted class; 8N1 is 10 bits a byte.
    cfg = default_config(layers=(784, 64, 10))
    assert stream_rate(cfg, 3_000_000) == pytest.approx(3_000_000 / (10 * (6 + 785 + 6 + 1)))


def test_rows_say_where_data_and_addresses_run_out(tmp_path):
    digits = cost_row((64, 256, 10), "digits", 1000.0)
    assert digits["weights"] == 64 * 256 + 256 * 10
    assert digits["parameter_bits"] == (64 * 256 + 256 * 10 + 256 + 10) * 16
    assert digits["data_on_chip"] and digits["link_samples_per_s_3mbaud"] is None
    assert digits["samples_per_s"] == digits["engine_samples_per_s"]
    assert digits["trainer_holds_it"] and digits["roofline_binds"] != "rng"
    mnist = cost_row((784, 64, 10), "mnist")
    assert not mnist["data_on_chip"]
    assert mnist["samples_per_s"] == min(mnist["engine_samples_per_s"],
                                         mnist["link_samples_per_s_3mbaud"])
    assert mnist["trainer_holds_it"]
    wide = cost_row((784, 256, 10), "mnist")
    # 200,704 weights in layer 0: four regions of whole row tiles, then b0, w1, b1
    assert wide["trainer_holds_it"] and wide["memory_regions"] == 7
    table = markdown([digits, mnist, wide])
    assert "| 784-256-10 | mnist | 203,264 |" in table and "yes, 7 regions" in table
    assert plot([digits, mnist, wide], tmp_path / "cost.png").read_bytes()[:4] == b"\x89PNG"
