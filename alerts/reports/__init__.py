"""Reports and statistics the regulations require: patrol ledger, duty roster, periodic reports, 舆情专报."""
