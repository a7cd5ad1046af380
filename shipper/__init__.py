"""mpwatch shipper: discovers, tails and frames SMS and IIS logs and delivers records at least once."""
