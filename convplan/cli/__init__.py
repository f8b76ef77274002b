"""The `convplan` command line: parse arguments, call the library, map errors to exit codes."""
