"""Job, check, model and event tables, and the engine that reaches them."""
