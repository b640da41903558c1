"""The roofline model (``fewmul.hw.roofline``) against hand-computed arithmetic.

Small networks on a toy chip whose figures make the sums easy to do by hand (each expected value
is worked out in the comment next to it, from ``docs/engine.md`` section "Roofline"), the chip
table against the figures quoted there, and the error messages.
"""

import subprocess
import sys

import pytest

from fewmul.config import Config
from fewmul.hw.roofline import (
    CHIPS,
    Assumptions,
    Chip,
    DoesNotFit,
    Memory,
    get_chip,
    roofline,
    roofline_table,
)

# 10 PEs by logic (1000 cells / 100 a PE; FFs 1000 / 50 = 20 do not bind); a dual-port
# block RAM of 10 blocks x 64 words x 16 bits; a single-port memory of 2 x 1024 x 16.
TOY = Chip("toy", "TOY", ("none",), logic_cells=1000, ffs=1000, dsps=0,
           memories=(Memory("BRAM", 10, 16, 64, True), Memory("SP", 2, 16, 1024, False)),
           dataset_memory="SP", sign_memory="SP", pe_cells=100, pe_ffs=50)
# Nothing reserved, no data set, one cycle of fill a phase: only the weights count.
BARE = Assumptions(reserved_cells=0, reserved_ffs=0, reserved_blocks=0, dataset_samples=0,
                   fill_cycles=1)
NET = Config(layers=(5, 4, 3))          # N M: 20 and 12 weights


def _phases(r):
    return [(p.name, p.datapath, p.memory, p.latency) for p in r.phases]


def test_operations_and_draws():
    r = roofline(NET, TOY, assume=BARE)
    # forward 20 + 12 sign-adds, backward only layer 1 (12), update 20 + 12 shift-adds
    assert r.ops == {"forward": 32, "backward": 12, "update": 32}
    # 3 (5 + 4) + 2 (4 + 3) draws; the column streams make 9 each, the row streams 7 each
    assert r.draws == 41 and r.rng == 9


def test_chip_bound_regenerated_signs():
    r = roofline(NET, TOY, banks=4, assume=BARE)
    assert r.pes == r.pe_budget == 10
    # datapath ceil(20/10) = 2, ceil(12/10) = 2; memory ceil(20/4) = 5, ceil(12/4) = 3 words
    # per bank, the read-modify-write of a dual-port bank one word a cycle
    assert _phases(r) == [("forward 0", 2, 5, 1), ("forward 1", 2, 3, 1),
                          ("backward+update 1", 2, 3, 1), ("update 0", 2, 5, 1)]
    assert (r.datapath, r.memory, r.chain) == (8, 16, 4)
    assert r.step == r.cycles == 5 + 3 + 3 + 5 + 4
    assert r.terms == {"datapath": 0, "memory": 16, "chain": 4, "rng": 0, "dataset": 0}
    assert r.binds == "memory"
    assert r.samples_per_s(20e6) == pytest.approx(20e6 / 20)


def test_every_free_block_is_a_bank_and_datapath_binds():
    r = roofline(NET, TOY, assume=BARE)
    assert r.memories.banks == 10 and r.memories.blocks == {"weights": ("BRAM", 10)}
    # memory ceil(20/10) = 2 = datapath: the datapath is named on a tie
    assert [(p.datapath, p.memory) for p in r.phases] == [(2, 2)] * 4
    assert r.cycles == 8 + 4 and r.binds == "datapath"


def test_narrow_weights_pack_two_to_a_word():
    r = roofline(NET.replace(weight_bits=8, lr_shift=5), TOY, banks=4, assume=BARE)
    assert r.memories.weights_per_word == 2
    # 10 and 6 words over 4 banks: 3, 2, 2, 3
    assert [p.memory for p in r.phases] == [3, 2, 2, 3]


def test_wide_weights_span_two_blocks():
    r = roofline(NET.replace(weight_bits=20, lr_shift=8), TOY, assume=BARE)
    # a 20-bit weight needs two 16-bit blocks side by side: 10 blocks are 5 banks
    assert (r.memories.blocks_per_bank, r.memories.banks, r.memories.weights_per_word) == (2, 5, 1)
    assert [p.memory for p in r.phases] == [4, 3, 3, 4]


def test_single_port_memory_needs_two_cycles_a_read_modify_write():
    r = roofline(NET, TOY, assume=BARE.replace(weight_memory="SP"))
    assert r.memories.banks == 2
    # forward 10, 6 reads a bank; update 2 x 6, 2 x 10
    assert [p.memory for p in r.phases] == [10, 6, 12, 20]


def test_stored_signs():
    r = roofline(NET, TOY, banks=4, assume=BARE.replace(signs="stored"))
    # the signs get the whole single-port memory (2 banks, 16 binary signs a word); the
    # forward of layer 1 writes ceil(12/16) = 1 word (1 cycle), under its 3 weight reads; the
    # backward reads it; one update pass over all 32 weights: datapath 2 + 2, memory 8 words
    assert r.memories.blocks == {"sign bits": ("SP", 2), "weights": ("BRAM", 4)}
    assert _phases(r) == [("forward 0", 2, 5, 1), ("forward 1", 2, 3, 1),
                          ("backward 1", 2, 1, 1), ("update", 4, 8, 1)]
    assert r.cycles == 5 + 3 + 2 + 8 + 4


def test_stored_signs_bind_the_forward_when_their_memory_is_narrow():
    one_sp = Chip("toy1", "TOY", (), logic_cells=100_000, ffs=100_000, dsps=0,
                  memories=(Memory("BRAM", 64, 16, 64, True), Memory("SP", 1, 16, 1024, False)),
                  dataset_memory="SP", sign_memory="SP", pe_cells=100, pe_ffs=50)
    net = Config(layers=(2, 40, 40), weights="ternary")     # layer 1: 1600 weights
    r = roofline(net, one_sp, assume=BARE.replace(signs="stored"))
    # 1000 PEs: ceil(1600/1000) = 2; weights 1600 / 64 banks = 25 reads; ternary signs are
    # 2 bits, 8 a word: 200 words into the one sign bank bind the forward and the backward
    assert _phases(r)[1:3] == [("forward 1", 2, 200, 1), ("backward 1", 2, 200, 1)]


def test_stored_signs_share_the_block_ram_pool():
    r = roofline(NET, TOY, assume=BARE.replace(signs="stored", sign_memory="BRAM"))
    # of 10 free blocks, ceil(10 x 1 / (16 + 1)) = 1 for the signs keeps up with 9 x 1 weights
    assert r.memories.blocks == {"sign bits": ("BRAM", 1), "weights": ("BRAM", 9)}
    assert r.memories.banks == 9


def test_given_engine_shape_counts_tiles():
    r = roofline(NET, TOY, (2, 4), assume=BARE)
    # layer 0 (N 5, M 4): ceil(4/2) ceil(5/4) = 4 tiles; layer 1 (N 4, M 3): 2 x 1 = 2 tiles;
    # banks: the 8 a 2 x 4 tile needs; memory ceil(20/8) = 3, ceil(12/8) = 2
    assert (r.pes, r.shape, r.memories.banks) == (8, (2, 4), 8)
    assert [(p.datapath, p.memory) for p in r.phases] == [(4, 3), (2, 2), (2, 2), (4, 3)]
    assert r.cycles == 12 + 4
    # a given engine may have fewer banks than its tile needs, and more PEs than the budget
    r = roofline(NET, TOY, 16, banks=2, assume=BARE)
    assert (r.pes, r.pe_budget, r.memories.banks) == (16, 10, 2)
    assert [(p.datapath, p.memory) for p in r.phases] == [(2, 10), (1, 6), (1, 6), (2, 10)]


def test_dependency_chain_latency():
    r = roofline(NET, TOY, assume=BARE.replace(fill_cycles=10, cycles_per_output=1))
    # fill 10 + the phase's outputs: forward M = 4, 3; backward N = 4; update 0 none
    assert [p.latency for p in r.phases] == [14, 13, 14, 10]
    assert r.chain == 51 and r.binds == "chain"


def test_draws_before_the_step_add_to_it():
    ahead = roofline(NET, TOY, assume=BARE)
    before = roofline(NET, TOY, assume=BARE.replace(draws_ahead=False))
    assert before.cycles == ahead.cycles + 9
    assert before.terms["rng"] == 9


def test_draws_bind_a_wide_input_layer():
    net = Config(layers=(200, 2))
    r = roofline(net, TOY, assume=BARE)
    # 400 weights: datapath 40, memory 40 a phase, step 80 + 2; the column streams 200 draws
    assert (r.step, r.rng, r.cycles, r.binds) == (82, 200, 200, "rng")
    assert r.terms == {"datapath": 0, "memory": 0, "chain": 0, "rng": 200, "dataset": 0}
    assert roofline(net, TOY, assume=BARE.replace(draws_per_cycle=2)).rng == 100


def test_data_set_on_chip():
    r = roofline(NET, TOY, assume=BARE.replace(dataset_samples=10))
    # 10 samples x (5 inputs + 1 label) bytes = 30 16-bit words: one SP block; the next
    # sample is 3 words
    assert r.memories.blocks["data set"] == ("SP", 1)
    assert r.dataset == 3
    assert roofline_table([NET], [TOY], assume=BARE.replace(dataset_samples=10))[0][
        "dataset_cycles"] == 3


def test_reserve_and_data_set_leave_fewer_banks():
    r = roofline(NET, TOY, assume=BARE.replace(reserved_blocks=3, dataset_samples=10,
                                               dataset_memory="BRAM"))
    # 60 bytes, 2 a word, 64 words a block: 1 block; 10 - 3 - 1 = 6 banks
    assert r.memories.blocks == {"reserved memories": ("BRAM", 3), "data set": ("BRAM", 1),
                                 "weights": ("BRAM", 6)}
    assert r.memories.banks == 6


def test_pe_budget_from_cells_and_flip_flops():
    assume = BARE.replace(reserved_cells=200, pe_ffs=300)
    r = roofline(NET, TOY, assume=assume)
    # cells (1000 - 200) / 100 = 8, flip-flops 1000 / 300 = 3
    assert r.pe_budget == r.pes == 3


# -- the chips: figures quoted in docs/engine.md ---------------------------------------------

@pytest.mark.parametrize("name, cells, ffs, blocks, dsps", [
    ("ice40up5k", 5280, 5280, [("EBR", 30, 16, 256), ("SPRAM", 4, 16, 16384)], 8),
    ("ecp5-85f", 83640, 83640, [("DP16KD", 208, 36, 512)], 156),
    ("ecp5-25f", 24288, 24288, [("DP16KD", 56, 36, 512)], 28),
    ("gw1n-9c", 8640, 6480, [("BSRAM", 26, 36, 512)], 20),
])
def test_chip_figures(name, cells, ffs, blocks, dsps):
    c = get_chip(name)
    assert (c.logic_cells, c.ffs, c.dsps) == (cells, ffs, dsps)
    assert [(m.name, m.count, m.width, m.depth) for m in c.memories] == blocks
    assert all(m.bits in (4096, 18432, 262144) for m in c.memories)


def test_board_chip_alias():
    assert get_chip("gw1nr-9") is CHIPS["gw1n-9c"]


def test_icebreaker_digits():
    r = roofline(Config(layers=(64, 64, 10)), "ice40up5k")
    # 30 EBR - 4 reserved = 26 banks of one 16-bit weight: 4096 / 26 -> 158, 640 / 26 -> 25
    assert [p.memory for p in r.phases] == [158, 25, 25, 158]
    # data set: 1437 x 65 bytes = 46,703 16-bit words: 3 SPRAM; (5280 - 2000) / 264 = 12 PEs
    assert r.memories.blocks["data set"] == ("SPRAM", 3)
    assert r.pes == 12
    assert [p.datapath for p in r.phases] == [342, 54, 54, 342]
    assert (r.cycles, r.binds) == (792 + 40, "datapath")


def test_ulx3s_tuned_network():
    r = roofline(Config(layers=(64, 256, 10)), "ecp5-85f")
    # 208 - 4 - 46 (1437 x 65 bytes, 4 a 36-bit word) = 158 banks of two 16-bit weights
    assert (r.memories.banks, r.memories.weights_per_word) == (158, 2)
    # the five streams: 64 + 256 = 320 column draws a step
    assert (r.cycles, r.binds) == (320, "rng")


# -- bad input ---------------------------------------------------------------------------

def test_unknown_chip_names_the_known_ones():
    with pytest.raises(ValueError, match=r"^unknown chip 'ice40hx8k'; choose one of "
                                         r"ice40up5k, ecp5-85f, ecp5-25f, gw1n-9c$"):
        roofline(NET, "ice40hx8k")


def test_weights_that_do_not_fit_name_the_memory_and_the_shortfall():
    net = Config(layers=(64, 16, 4))       # 1088 weights: 17 blocks of 64
    with pytest.raises(DoesNotFit, match=r"^64-16-4 does not fit toy: the weights \(1088 "
                                         r"weights of 16 bits, 1 per 16-bit word, 8 banks\) "
                                         r"would take 17 BRAM, 8 of 10 are free after 2 for the "
                                         r"reserved memories: 9 BRAM short$"):
        roofline(net, TOY, assume=BARE.replace(reserved_blocks=2))


def test_wide_weights_that_do_not_fit():
    net = Config(layers=(64, 16, 4), weight_bits=20, lr_shift=8)
    # 1088 weights, one a 64-word bank of two blocks side by side: 17 banks, 34 blocks
    with pytest.raises(DoesNotFit, match=r"\(1088 weights of 20 bits, 1 per 16-bit word, 5 "
                                         r"banks\) would take 34 BRAM, 10 of 10 are free: "
                                         r"24 BRAM short$"):
        roofline(net, TOY, assume=BARE)


def test_data_set_that_does_not_fit():
    with pytest.raises(DoesNotFit, match=r"^5-4-3 does not fit toy: the data set \(1000 "
                                         r"samples x 6 bytes, 2 bytes per 16-bit word\) "
                                         r"would take "
                                         r"3 SP, 2 of 2 are free: 1 SP short$"):
        roofline(NET, TOY, assume=BARE.replace(dataset_samples=1000))


def test_real_chips_that_do_not_fit():
    with pytest.raises(DoesNotFit, match=r"the weights .* would take 74 EBR, 26 of 30 are "
                                         r"free after 4 for the reserved memories: 48 EBR short$"):
        roofline(Config(layers=(64, 256, 10)), "ice40up5k")
    with pytest.raises(DoesNotFit, match=r"the data set .* would take 46 BSRAM, 22 of 26 .* "
                                         r"24 BSRAM short$"):
        roofline(Config(layers=(64, 64, 10)), "gw1n-9c")


def test_no_pe_fits():
    with pytest.raises(DoesNotFit, match=r"^no PE fits toy: 100 cells and 50 FFs a PE, "
                                         r"-200 cells and 1000 FFs left after the reserve$"):
        roofline(NET, TOY, assume=BARE.replace(reserved_cells=1200))


@pytest.mark.parametrize("kwargs, message", [
    (dict(pes=0), "pes must be None, a positive integer or a (rows, cols) tuple, not 0"),
    (dict(pes=(2, 0)), "pes must be None, a positive integer or a (rows, cols) tuple, "
                       "not (2, 0)"),
    (dict(pes=2.5), "pes must be None, a positive integer or a (rows, cols) tuple, not 2.5"),
    (dict(banks=0), "banks must be a positive integer, not 0"),
    (dict(assume="fast"), "assume must be a fewmul.hw.roofline.Assumptions, not 'fast'"),
    (dict(assume=BARE.replace(weight_memory="HRAM")),
     "'HRAM' is not a memory of toy; choose one of BRAM, SP"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError) as info:
        roofline(NET, TOY, **{"assume": BARE, **kwargs})
    assert str(info.value) == message


def test_weight_banks_beyond_the_free_blocks():
    with pytest.raises(DoesNotFit, match=r"would take 11 BRAM, 10 of 10 are free: "
                                         r"1 BRAM short$"):
        roofline(NET, TOY, banks=11, assume=BARE)


def test_bad_config_and_fmax():
    with pytest.raises(ValueError, match=r"^cfg must be a fewmul.config.Config, not "
                                         r"\(64, 64, 10\)$"):
        roofline((64, 64, 10), TOY)
    with pytest.raises(ValueError, match=r"^fmax_hz must be a positive number, not 0$"):
        roofline(NET, TOY, assume=BARE).samples_per_s(0)


@pytest.mark.parametrize("changes, message", [
    (dict(signs="cached"), "signs must be one of regenerate, stored; not 'cached'"),
    (dict(fill_cycles=-1), "fill_cycles must be an integer >= 0, not -1"),
    (dict(pe_cells=0), "pe_cells must be an integer >= 1, not 0"),
    (dict(draws_per_cycle=True), "draws_per_cycle must be an integer >= 1, not True"),
    (dict(cycles_per_output=-0.5), "cycles_per_output must be a number >= 0, not -0.5"),
    (dict(draws_ahead=1), "draws_ahead must be True or False, not 1"),
])
def test_bad_assumptions(changes, message):
    with pytest.raises(ValueError) as info:
        Assumptions(**changes)
    assert str(info.value) == message


# -- the table the trainer bench uses ------------------------------------------------------

def test_table_rows():
    rows = roofline_table([Config(layers=(64, 64, 10)), Config(layers=(64, 256, 10))],
                          ["ice40up5k", "ecp5-85f"], fmax_mhz={"ecp5-85f": 75.0})
    assert [(r["chip"], r["network"], r["fits"]) for r in rows] == [
        ("ice40up5k", "64-64-10", True), ("ecp5-85f", "64-64-10", True),
        ("ice40up5k", "64-256-10", False), ("ecp5-85f", "64-256-10", True)]
    assert "48 EBR short" in rows[2]["reason"]
    assert "fmax_mhz" not in rows[0]
    assert rows[3]["roofline_samples_per_s"] == pytest.approx(75e6 / 320)
    assert rows[3]["binds"] == "rng" and rows[3]["boards"] == ["ulx3s-85f", "orangecrab-85f"]


def test_importable_without_amaranth():
    code = ("import sys, fewmul.hw.roofline as r; "
            "r.roofline_table([r.Config()], ['ice40up5k']); "
            "assert 'amaranth' not in sys.modules, 'amaranth imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
