"""One experiment module per chapter, named after the lesson file: sweeps, configs and runs only."""
