"""The command line: parse input, call one service function, render its result."""
