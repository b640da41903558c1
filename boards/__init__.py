"""Board targets and the one place that runs synthesis (Yosys + nextpnr from YoWASP)."""
