"""The CLI as a terminal starts it, for tests that send its process group signals (Ctrl-C, SIGTERM)."""

FOREGROUND_CLI = (
    "import signal, sys\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "exec(sys.argv[1])\n"
    "from spikeport.cli import main\n"
    "raise SystemExit(main(sys.argv[2:]))\n"
)
"""`python -c FOREGROUND_CLI FAULT ARGS...`: runs `spikeport ARGS` as `python -m spikeport` does, after executing
FAULT (code injecting a fault, or ""). Ctrl-C gets Python's default handler, as a command started from a terminal
has it: a test runner started as a background job of a non-interactive shell ignores SIGINT (POSIX), and the
commands it starts would inherit that and ignore the test's Ctrl-C."""
