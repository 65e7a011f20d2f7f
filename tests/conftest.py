"""Settings shared by every test directory."""

import logging


def pytest_unconfigure(config):
    # Salt flushes its log handlers at interpreter exit, after pytest has
    # closed the streams it captured; that flush would print a spurious
    # "Logging error" traceback below the test summary.
    logging.raiseExceptions = False
