"""cocotb testbenches and the runner that builds them on Icarus Verilog and Verilator."""
