// DP16KD (ECP5 block RAM) behaviour for netlist simulation: the body that
// fewmul.sim.netlist.dp16kd_model inserts into the blackbox declaration of Yosys's ECP5
// cells_sim.v (same ports and parameters). See DP16KD_BEHAVIOUR there for what it models.
// The marker line in the initial block becomes one init_row(INITVAL_xx, xx) per row.
	wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
	wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
	wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
	wire [17:0] dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
	reg [17:0] out_a = 18'd0, out_b = 18'd0, out_b_low = 18'd0;
	wire [17:0] doa = DATA_WIDTH_B == 36 ? out_b_low : out_a;
	assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = doa;
	assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = out_b;
	reg [8:0] mem [0:2047];
	wire clka = CLKA ^ (CLKAMUX == "INV");
	wire clkb = CLKB ^ (CLKBMUX == "INV");
	wire arst_a = RESETMODE == "ASYNC" && RSTA;
	wire arst_b = RESETMODE == "ASYNC" && RSTB;

	task init_row(input [319:0] row, input integer index);
		integer k;
		for (k = 0; k < 16; k = k + 1) begin
			mem[2 * (16 * index + k)] = row[20 * k +: 9];
			mem[2 * (16 * index + k) + 1] = row[20 * k + 9 +: 9];
		end
	endtask
	initial begin
INIT_ROWS
	end

	// width <= 18: the addressed word (x1..x4: data bits of the bytes; x9, x18: whole bytes)
	function [17:0] read_word(input integer width, input [13:0] ad);
		reg [10:0] byte_index;
		begin
			read_word = 18'd0;
			case (width)
				18: read_word = {mem[{ad[13:4], 1'b1}], mem[{ad[13:4], 1'b0}]};
				9: read_word = {9'd0, mem[ad[13:3]]};
				4: read_word = {14'd0, mem[ad[13:3]][{ad[2], 2'b00} +: 4]};
				2: read_word = {16'd0, mem[ad[13:3]][{ad[2:1], 1'b0} +: 2]};
				default: read_word = {17'd0, mem[ad[13:3]][ad[2:0]]};
			endcase
		end
	endfunction

	// writes of one port of width <= 18 (x18: byte enables ad[1:0]); the new word
	task write_word(input integer width, input [13:0] ad, input [17:0] data);
		reg [8:0] old;
		begin
			case (width)
				18: begin
					if (ad[0]) mem[{ad[13:4], 1'b0}] <= data[8:0];
					if (ad[1]) mem[{ad[13:4], 1'b1}] <= data[17:9];
				end
				9: mem[ad[13:3]] <= data[8:0];
				4: begin old = mem[ad[13:3]]; old[{ad[2], 2'b00} +: 4] = data[3:0]; mem[ad[13:3]] <= old; end
				2: begin old = mem[ad[13:3]]; old[{ad[2:1], 1'b0} +: 2] = data[1:0]; mem[ad[13:3]] <= old; end
				default: begin old = mem[ad[13:3]]; old[ad[2:0]] = data[0]; mem[ad[13:3]] <= old; end
			endcase
		end
	endtask

	function [17:0] merged(input integer width, input [13:0] ad, input [17:0] old, input [17:0] data);
		merged = width == 18 ? {ad[1] ? data[17:9] : old[17:9], ad[0] ? data[8:0] : old[8:0]} : data;
	endfunction

	always @(posedge clka or posedge arst_a) begin
		if (arst_a) begin
			out_a <= 18'd0;
		end else if (CEA) begin
			if (DATA_WIDTH_A == 36) begin
				if (WEA) begin
					if (ada[0]) mem[{ada[13:5], 2'd0}] <= dia[8:0];
					if (ada[1]) mem[{ada[13:5], 2'd1}] <= dia[17:9];
					if (ada[2]) mem[{ada[13:5], 2'd2}] <= dib[8:0];
					if (ada[3]) mem[{ada[13:5], 2'd3}] <= dib[17:9];
				end
			end else begin
				if (WEA) write_word(DATA_WIDTH_A, ada, dia);
				if (RESETMODE == "SYNC" && RSTA) out_a <= 18'd0;
				else if (!WEA || WRITEMODE_A == "READBEFOREWRITE") out_a <= read_word(DATA_WIDTH_A, ada);
				else if (WRITEMODE_A == "WRITETHROUGH") out_a <= merged(DATA_WIDTH_A, ada, read_word(DATA_WIDTH_A, ada), dia);
			end
		end
	end

	always @(posedge clkb or posedge arst_b) begin
		if (arst_b) begin
			out_b <= 18'd0;
			out_b_low <= 18'd0;
		end else if (CEB) begin
			if (DATA_WIDTH_B == 36) begin
				if (RESETMODE == "SYNC" && RSTB) begin
					out_b <= 18'd0;
					out_b_low <= 18'd0;
				end else begin
					out_b_low <= {mem[{adb[13:5], 2'd1}], mem[{adb[13:5], 2'd0}]};
					out_b <= {mem[{adb[13:5], 2'd3}], mem[{adb[13:5], 2'd2}]};
				end
			end else begin
				if (WEB) write_word(DATA_WIDTH_B, adb, dib);
				if (RESETMODE == "SYNC" && RSTB) out_b <= 18'd0;
				else if (!WEB || WRITEMODE_B == "READBEFOREWRITE") out_b <= read_word(DATA_WIDTH_B, adb);
				else if (WRITEMODE_B == "WRITETHROUGH") out_b <= merged(DATA_WIDTH_B, adb, read_word(DATA_WIDTH_B, adb), dib);
			end
		end
	end
