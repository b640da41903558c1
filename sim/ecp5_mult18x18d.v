// MULT18X18D (ECP5 sysDSP 18 x 18 multiplier) behaviour for simulation: the subset that
// fewmul.hw.mac_array's `hard_multiplier="mult18x18d"` instantiates. Yosys 0.70 ships the block
// only as a blackbox (ecp5/cells_bb.v), so this model stands in for it in the cocotb benches.
//
// Modelled: A, B, P registers clocked by CLK0 (REG_*_CLK "CLK0") or bypassed ("NONE"), each
// with its clock enable CE0..CE3 and reset RST0..RST3 (RESETMODE "SYNC"); SIGNEDA/B;
// SOURCEA/B = 0 (the parallel inputs; the cascade shift chain is not modelled). The pipeline
// register (REG_PIPELINE_*) is not modelled: a parameter this model does not cover stops the
// simulation at time 0 with its name, so a testbench can never pass on unmodelled behaviour.
// Datasheet: Lattice FPGA-TN-02205 (ECP5 sysDSP usage guide), MULT18X18D.
module MULT18X18D #(
	parameter REG_INPUTA_CLK = "NONE", parameter REG_INPUTA_CE = "CE0",
	parameter REG_INPUTA_RST = "RST0",
	parameter REG_INPUTB_CLK = "NONE", parameter REG_INPUTB_CE = "CE0",
	parameter REG_INPUTB_RST = "RST0",
	parameter REG_INPUTC_CLK = "NONE",
	parameter REG_PIPELINE_CLK = "NONE", parameter REG_PIPELINE_CE = "CE0",
	parameter REG_PIPELINE_RST = "RST0",
	parameter REG_OUTPUT_CLK = "NONE", parameter REG_OUTPUT_CE = "CE0",
	parameter REG_OUTPUT_RST = "RST0",
	parameter CLK0_DIV = "ENABLED", parameter CLK1_DIV = "ENABLED",
	parameter CLK2_DIV = "ENABLED", parameter CLK3_DIV = "ENABLED",
	parameter HIGHSPEED_CLK = "NONE", parameter GSR = "ENABLED", parameter CAS_MATCH_REG = "FALSE",
	parameter SOURCEB_MODE = "B_SHIFT", parameter MULT_BYPASS = "DISABLED",
	parameter RESETMODE = "SYNC"
) (
	input A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
	input B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
	input C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
	input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
	input CLK3, CLK2, CLK1, CLK0, CE3, CE2, CE1, CE0, RST3, RST2, RST1, RST0,
	output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19,
	       P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0
);
	wire [17:0] a_in = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
	wire [17:0] b_in = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
	wire [3:0] ce = {CE3, CE2, CE1, CE0};
	wire [3:0] rst = {RST3, RST2, RST1, RST0};

	function integer index(input [8*4-1:0] name);   // "CE2" -> 2, "RST0" -> 0
		index = name[7:0] - "0";
	endfunction

	initial begin
		if (REG_INPUTA_CLK != "NONE" && REG_INPUTA_CLK != "CLK0") $fatal(1, "MULT18X18D model: REG_INPUTA_CLK %s", REG_INPUTA_CLK);
		if (REG_INPUTB_CLK != "NONE" && REG_INPUTB_CLK != "CLK0") $fatal(1, "MULT18X18D model: REG_INPUTB_CLK %s", REG_INPUTB_CLK);
		if (REG_OUTPUT_CLK != "NONE" && REG_OUTPUT_CLK != "CLK0") $fatal(1, "MULT18X18D model: REG_OUTPUT_CLK %s", REG_OUTPUT_CLK);
		if (REG_PIPELINE_CLK != "NONE") $fatal(1, "MULT18X18D model: REG_PIPELINE_CLK %s", REG_PIPELINE_CLK);
		if (REG_INPUTC_CLK != "NONE") $fatal(1, "MULT18X18D model: REG_INPUTC_CLK %s", REG_INPUTC_CLK);
		if (RESETMODE != "SYNC") $fatal(1, "MULT18X18D model: RESETMODE %s", RESETMODE);
	end

	reg [17:0] a_reg = 18'd0, b_reg = 18'd0;
	reg [35:0] p_reg = 36'd0;
	wire [17:0] a = REG_INPUTA_CLK == "NONE" ? a_in : a_reg;
	wire [17:0] b = REG_INPUTB_CLK == "NONE" ? b_in : b_reg;
	wire [35:0] a_ext = {{18{SIGNEDA & a[17]}}, a};
	wire [35:0] b_ext = {{18{SIGNEDB & b[17]}}, b};
	wire [35:0] product = a_ext * b_ext;
	wire [35:0] p = REG_OUTPUT_CLK == "NONE" ? product : p_reg;
	assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19,
	        P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = p;

	wire rst_a = rst[index(REG_INPUTA_RST)], rst_b = rst[index(REG_INPUTB_RST)];
	wire rst_p = rst[index(REG_OUTPUT_RST)];
	always @(posedge CLK0) begin
		if (rst_a) a_reg <= 18'd0;
		else if (ce[index(REG_INPUTA_CE)]) a_reg <= a_in;
		if (rst_b) b_reg <= 18'd0;
		else if (ce[index(REG_INPUTB_CE)]) b_reg <= b_in;
		if (rst_p) p_reg <= 36'd0;
		else if (ce[index(REG_OUTPUT_CE)]) p_reg <= product;
	end
endmodule
