"""Planning visits: which inspector visits which office, with which form, when."""
